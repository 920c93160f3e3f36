"""`asc-tool listen`: the device's real-time loop on this machine (microphone or --file).

The loop itself (ring buffer, gate, smoothing, mitigation) is :mod:`.runtime`, the same code
the bundle ships to the Jetson; this module picks the model, maps the device errors to
asc-tool's, and loads any audio format for ``--file``.
"""

from __future__ import annotations

import shlex
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

from ..core.errors import ConfigError, DataError, ToolMissingError
from .data import NEGATIVE
from .runtime import DEFAULTS, Action, Listener


def action_spec(command: str | None = None, sound: str | None = None, message: str | None = None) -> dict:
    """The mitigation action from CLI values: a command (split like a shell, run without one),
    a sound file to play, or only a message."""
    spec = {"type": "print", "message": message or DEFAULTS["action"]["message"]}
    if command and sound:
        raise ConfigError("--on-trigger-run and --on-trigger-sound both given", "choose one action")
    if command:
        argv = shlex.split(command)
        if not argv:
            raise ConfigError("--on-trigger-run is empty", "give a command such as 'notify-send Break'")
        spec.update(type="command", argv=argv)
    if sound:
        if not Path(sound).is_file():
            raise DataError(f"{sound}: sound file not found", "pass an existing WAV file to --on-trigger-sound")
        spec.update(type="sound", sound=str(Path(sound).resolve()))
    return spec


def listen_settings(**values) -> dict:
    """DEFAULTS with the given (non-None) values; checks the thresholds' order."""
    settings = dict(DEFAULTS)
    settings.update({k: v for k, v in values.items() if v is not None})
    if not settings["infer_every_s"] > 0 or not 0 < settings["smoothing"] <= 1:
        raise ConfigError(f"--infer-every {settings['infer_every_s']} / --smoothing {settings['smoothing']}",
                          "use an interval above 0 s (0.25–0.5 is typical) and a smoothing weight in (0, 1]")
    if not settings["release_threshold"] < settings["trigger_threshold"]:
        raise ConfigError(f"release threshold {settings['release_threshold']} is not below the trigger "
                          f"threshold {settings['trigger_threshold']}", "choose e.g. --trigger 0.6 --release 0.4")
    return settings


def load_engine_model(run, engine: str = "onnx", precision: str = "fp16"):
    """A callable model for the run: ONNX Runtime (exported on demand) or a cached TensorRT engine."""
    from .device_models import OnnxRuntimeModel, TensorRTModel
    from .export import export_onnx, onnx_path, require

    if engine == "tensorrt":
        from .engine import cached_engine

        return TensorRTModel(cached_engine(run, precision))
    require("onnxruntime", "onnxruntime")
    path = onnx_path(run)
    if not path.is_file():
        export_onnx(run.path)
    return OnnxRuntimeModel(path)


def listen(run_dir, file=None, input_device=None, seconds=None, engine="onnx", settings=None,
           on_event=None, model=None) -> dict:
    """Run the loop on ``file`` (faster than real time) or a microphone; returns the summary."""
    from . import device_main
    from .export import open_ser_run

    run = open_ser_run(run_dir)
    negative = run.manifest.get("negative_classes") or [c for c in NEGATIVE if c in run.class_names]
    settings = settings or listen_settings()
    model = model or load_engine_model(run, engine)
    listener = Listener(model, run.class_names, negative, settings, Action(settings["action"]), on_event)
    signal = _file_signal(file) if file is not None else None
    start = time.perf_counter()
    try:
        with threadpool_limits(1):      # as on the device: BLAS threads only slow a window down
            if signal is not None:
                summary = device_main.listen_signal(listener, signal)
            else:
                summary = device_main.listen_microphone(listener, input_device, seconds)
    except device_main.DeviceError as exc:
        raise _user_error(str(exc)) from None
    listener.action.wait()
    summary["wall_s"] = round(time.perf_counter() - start, 3)
    summary["realtime_factor"] = round(summary["audio_s"] / max(summary["wall_s"], 1e-9), 2)
    summary["engine"] = getattr(model, "name", engine)
    return summary


def _file_signal(file):
    from ..data.audio import load_audio
    from .features import SAMPLE_RATE, WINDOW_SAMPLES

    signal = load_audio(file)
    if len(signal) < WINDOW_SAMPLES:
        raise DataError(f"{file}: {len(signal) / SAMPLE_RATE:.2f} s is shorter than one window "
                        f"({WINDOW_SAMPLES / SAMPLE_RATE:.3f} s)", "listen to a longer recording")
    return signal


def list_devices() -> list[dict]:
    from . import device_main

    try:
        return [{"index": i, "name": n, "default_samplerate": r, "channels": c}
                for i, n, r, c in device_main.input_devices()]
    except device_main.DeviceError as exc:
        raise _user_error(str(exc)) from None


def _user_error(text: str):
    if "sounddevice" in text:
        return ToolMissingError(text.split(":")[0] + " — needed for live listening",
                                "pip install sounddevice (and apt-get install libportaudio2), or use --file")
    return ConfigError(text, "run `asc-tool listen --list-devices` and pass part of a name to --input-device")
