"""jetson-ser commands: export, engine, listen, bundle; and train_ser for `train --target jetson-ser`."""

from __future__ import annotations

import json

import click

from .output import err as _err


def train_ser(data, root, out, settings=None, skip_bad=False, log=None, **overrides):
    """Train the jetson-ser model; returns (run path, result) like the stm32-asc trainer.

    ``settings`` are the resolved `train` options (config.OPTIONS: the shared ones and the
    ser_* ones); ``overrides`` (None = keep) win over them.
    """
    from ..ser.train import train_ser as _train

    return _train(data, out, ser_config(settings, **overrides), root=root, skip_bad=skip_bad, log=log or _err)


def ser_config(settings=None, **overrides):
    """SerTrainConfig from resolved options: the shared ones, then ser_* (prefix dropped), then
    ``overrides`` (None = keep)."""
    from ..ser.train import SerTrainConfig

    ser = {k[len("ser_"):]: v for k, v in (settings or {}).items() if k.startswith("ser_")}
    return SerTrainConfig.from_settings(settings, **{**ser, **overrides})


def cv_ser(data, root, folds, out, settings, skip_bad=False, as_json=False) -> None:
    """`asc-tool cv --target jetson-ser`: speaker-independent k-fold, printed per corpus."""
    from ..ser.cv import cross_validate_ser, summary_lines

    summary = cross_validate_ser(data, out, ser_config(settings), root=root, folds=folds, skip_bad=skip_bad,
                                 log=_err)
    for row in summary["skipped"]:
        _err(f"skipped {row['path']}: {row['reason']}")
    _emit(summary, as_json, summary_lines(summary))


def _emit(data: dict, as_json: bool, lines) -> None:
    """One JSON object on stdout with --json; the human lines on stderr either way."""
    if as_json:
        click.echo(json.dumps(data, indent=2))
    for line in lines:
        _err(line)


RUN_OPTION = click.option("--run", "run_dir", required=True, type=click.Path(),
                          help="A jetson-ser run directory (asc-tool train --target jetson-ser).")


@click.command()
@RUN_OPTION
@click.option("--format", "fmt", type=click.Choice(["onnx"]), default="onnx", show_default=True)
@click.option("--layout", type=click.Choice(["NCHW", "NHWC"], case_sensitive=False), default="NCHW",
              show_default=True, help="Input layout: NCHW (TensorRT's) or NHWC (Keras').")
@click.option("--json", "as_json", is_flag=True, help="Print the parity report as JSON on stdout.")
def export(run_dir, fmt, layout, as_json):
    """Export the run's model to ONNX (opset 13, batch 1), checked against Keras with ONNX Runtime."""
    from ..ser.export import export_onnx

    r = export_onnx(run_dir, layout.upper())
    _emit(r, as_json, [f"{r['onnx']}: opset {r['opset']}, input {r['input']}, {r['nodes']} nodes",
                       f"ONNX Runtime vs Keras on {r['parity_source']}: max |Δp| {r['max_abs_diff']:.2e} "
                       f"(≤ {r['tolerance']}), top-1 agreement {r['top1_agreement']:.0%}"])


@click.command()
@RUN_OPTION
@click.option("--precision", type=click.Choice(["fp32", "fp16"]), default="fp16", show_default=True)
@click.option("--force", is_flag=True, help="Rebuild even if a cached engine exists.")
@click.option("--json", "as_json", is_flag=True)
def engine(run_dir, precision, force, as_json):
    """Build a TensorRT engine (cached by TensorRT version, GPU and precision) and validate it.

    Without the tensorrt package: prints the equivalent trtexec command on stdout and exits 2."""
    from ..core.errors import ToolMissingError
    from ..ser.engine import build_engine

    try:
        r = build_engine(run_dir, precision, force)
    except ToolMissingError as exc:
        if "trtexec" in exc.message:
            click.echo(exc.message.split("command is: ", 1)[-1])
        raise
    _emit(r, as_json, [f"{r['engine']} ({'cached' if r['cached'] else 'built in %ss' % r['build_s']})",
                       f"vs ONNX Runtime: top-1 agreement {r['top1_agreement']:.0%}, max |Δp| "
                       f"{r['max_abs_diff']:.2e}; latency {r['latency_ms']} ms (batch 1)"])


@click.command()
@click.option("--run", "run_dir", type=click.Path(), help="A jetson-ser run directory.")
@click.option("--input-device", help="Part of the microphone's name (see --list-devices).")
@click.option("--list-devices", is_flag=True, help="List capture devices and exit.")
@click.option("--file", "audio_file", type=click.Path(),
              help="Run the loop on this recording, faster than real time.")
@click.option("--seconds", type=float, help="Stop live listening after this many seconds.")
@click.option("--engine", "engine_name", type=click.Choice(["onnx", "tensorrt"]), default="onnx",
              show_default=True, help="ONNX Runtime (CPU), or a TensorRT engine built and cached for this GPU.")
@click.option("--infer-every", type=float, help="Seconds of new audio between inferences [0.5].")
@click.option("--smoothing", type=float, help="Weight of the newest probabilities in the moving average [0.5].")
@click.option("--gate-dbfs", type=float, help="Skip windows quieter than this level [-45 dBFS].")
@click.option("--trigger", type=float, help="Negative score that starts the clock [0.6].")
@click.option("--release", type=float, help="Negative score that ends a trigger [0.4].")
@click.option("--sustain", type=float, help="Seconds above the trigger before acting [10].")
@click.option("--cooldown", type=float, help="Seconds after a release before the next trigger [30].")
@click.option("--on-trigger-run", help="Command to run on a trigger (split like a shell, run without one).")
@click.option("--on-trigger-sound", type=click.Path(), help="WAV file to play on a trigger (aplay).")
@click.option("--message", help="Message printed on a trigger.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary (events, latency) as JSON on stdout.")
def listen(run_dir, input_device, list_devices, audio_file, seconds, engine_name, as_json, **opts):
    """Real-time speech emotion recognition with mitigation (microphone or --file)."""
    from ..core.errors import ConfigError
    from ..ser import listen as L

    if list_devices:
        devices = L.list_devices()
        _emit({"devices": devices}, as_json, [f"{d['index']:3d}  {d['name']:<40} {d['default_samplerate']:.0f} Hz"
                                              for d in devices] or ["no capture devices"])
        return
    if not run_dir:
        raise ConfigError("listen needs --run RUN", "pass a jetson-ser run directory")
    settings = L.listen_settings(
        infer_every_s=opts["infer_every"], smoothing=opts["smoothing"], gate_dbfs=opts["gate_dbfs"],
        trigger_threshold=opts["trigger"], release_threshold=opts["release"], sustain_s=opts["sustain"],
        cooldown_s=opts["cooldown"], action=L.action_spec(opts["on_trigger_run"], opts["on_trigger_sound"],
                                                          opts["message"]))
    s = L.listen(run_dir, audio_file, input_device, seconds, engine_name, settings, on_event=_show_event)
    latency = ", ".join(f"{k} {v['mean']} / {v['p95']}" for k, v in s["latency_ms"].items())
    _emit(s, as_json, [f"{s['audio_s']} s of audio in {s['wall_s']} s ({s['realtime_factor']}× real time): "
                       f"{s['inferences']} inferences, {s['gated']} windows without speech, "
                       f"{sum(e['event'] == 'trigger' for e in s['events'])} trigger(s)",
                       f"latency (mean / p95 ms): {latency}"])


def _show_event(e: dict) -> None:
    extra = f", negative {e['negative']:.2f}, top {e['top']}" if "negative" in e else ""
    _err(f"[{e['t']:8.1f} s] {e['event']:<8} state {e['state']}{extra}")


@click.command()
@RUN_OPTION
@click.option("--board", type=click.Choice(["jetson-nano"]), default="jetson-nano", show_default=True)
@click.option("--out", required=True, type=click.Path(), help="Folder to write (atomically).")
@click.option("--json", "as_json", is_flag=True)
def bundle(run_dir, board, out, as_json):
    """Write what a Jetson needs: ONNX, config, runtime, requirements, README with commands."""
    from ..ser.bundle import bundle as make_bundle

    r = make_bundle(run_dir, out, board)
    _emit(r, as_json, [f"{r['bundle']}: {len(r['files'])} files for {board}",
                       "next: copy it to the Jetson, run ./build_engine.sh, then python3 run.py --list-devices"])


commands = [export, engine, listen, bundle]
