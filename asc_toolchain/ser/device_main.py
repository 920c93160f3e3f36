"""Live listening: microphone by name, native rate → 16 kHz, callback queues, worker infers.

Also the device program's entry point (`python3 run.py` in a bundle): Python 3.6 + numpy,
with onnxruntime or tensorrt + pycuda, and sounddevice for the microphone.
"""

import argparse
import json
import os
import queue
import sys
import threading
import wave

import numpy as np

from . import features as F
from .runtime import Action, Listener, StreamResampler


class DeviceError(Exception):
    """A problem the user can fix (no such microphone, missing package, bad file)."""


def _sounddevice():
    try:
        import sounddevice
    except (ImportError, OSError) as exc:     # OSError: PortAudio library missing
        raise DeviceError("the Python package 'sounddevice' is not usable (%s): pip install sounddevice "
                          "(and apt-get install libportaudio2)" % exc)
    return sounddevice


def input_devices():
    """[(index, name, default_samplerate, max_input_channels)] of every capture device."""
    sd = _sounddevice()
    return [(i, d["name"], float(d["default_samplerate"]), int(d["max_input_channels"]))
            for i, d in enumerate(sd.query_devices()) if d["max_input_channels"] > 0]


def find_device(name):
    """The capture device whose name contains ``name`` (case-insensitive); exactly one."""
    devices = input_devices()
    hits = [d for d in devices if name.lower() in d[1].lower()]
    if len(hits) != 1:
        listing = "; ".join("%s" % d[1] for d in devices) or "none"
        raise DeviceError("%d capture devices match %r (have: %s): pass a unique part of the name "
                          "(--list-devices shows them)" % (len(hits), name, listing))
    return hits[0]


def listen_microphone(listener, device_name=None, seconds=None, block_s=0.1):
    """Capture at the device's native rate until Ctrl-C or ``seconds``; returns the summary."""
    sd = _sounddevice()
    index, _, rate, _ = find_device(device_name) if device_name else (None, "", None, 1)
    if rate is None:
        rate = float(sd.query_devices(kind="input")["default_samplerate"])
    blocks = queue.Queue()
    stop = threading.Event()

    def callback(indata, frames, time_info, status):        # audio thread: only queue
        blocks.put(indata[:, 0].copy())

    worker = threading.Thread(target=_work, args=(listener, blocks, StreamResampler(rate), stop))
    worker.start()
    try:
        with sd.InputStream(device=index, channels=1, samplerate=rate, dtype="float32",
                            blocksize=int(rate * block_s), callback=callback):
            stop.wait(seconds)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        worker.join()
    return listener.summary()


def _work(listener, blocks, resample, stop):
    while not (stop.is_set() and blocks.empty()):
        try:
            block = blocks.get(timeout=0.2)
        except queue.Empty:
            continue
        listener.feed(resample(block))


def read_wav(path):
    """16-bit or 32-bit PCM WAV (any rate, any channels) → float32 mono 16 kHz (stdlib only)."""
    with wave.open(str(path), "rb") as w:
        width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
        raw = w.readframes(w.getnframes())
    if width not in (2, 4):
        raise DeviceError("%s: %d-bit WAV; convert it to 16-bit PCM" % (path, 8 * width))
    x = np.frombuffer(raw, dtype="<i2" if width == 2 else "<i4").astype(np.float32)
    x = x.reshape(-1, channels).mean(axis=1) / (32768.0 if width == 2 else 2147483648.0)
    return StreamResampler(rate)(x) if rate != F.SAMPLE_RATE else x


def listen_signal(listener, signal, block=1600):
    """Feed a 16 kHz signal in blocks as fast as possible (faster than real time)."""
    for start in range(0, len(signal), block):
        listener.feed(signal[start:start + block])
    return listener.summary()


def _args(argv):
    p = argparse.ArgumentParser(description="Real-time speech emotion recognition with mitigation.")
    p.add_argument("--config", default="config.json", help="config.json from the bundle")
    p.add_argument("--model", help="model file (.onnx, or a TensorRT .engine); default from the config")
    p.add_argument("--input-device", help="part of the microphone's name (see --list-devices)")
    p.add_argument("--list-devices", action="store_true", help="list capture devices and exit")
    p.add_argument("--file", help="run on a 16-bit WAV file instead of the microphone")
    p.add_argument("--seconds", type=float, help="stop after this many seconds of live audio")
    return p.parse_args(argv)


def main(argv=None):
    """Device entry point; exit 0 on success, 2 on a user error."""
    args = _args(argv)
    try:
        if args.list_devices:
            for index, name, rate, ch in input_devices():
                print("%3d  %-40s %6.0f Hz  %d ch" % (index, name, rate, ch))
            return 0
        with open(args.config) as f:
            config = json.load(f)
        from .device_models import load_model

        base = os.path.dirname(os.path.abspath(args.config))
        model = load_model(args.model or os.path.join(base, config["model"]))
        listener = Listener(model, config["class_names"], config["negative_classes"], config["listen"],
                            Action(config["listen"].get("action")),
                            on_event=lambda e: print(json.dumps(e), flush=True))
        summary = (listen_signal(listener, read_wav(args.file)) if args.file
                   else listen_microphone(listener, args.input_device, args.seconds))
        print(json.dumps(summary))
        return 0
    except (DeviceError, IOError, KeyError, ValueError) as exc:
        sys.stderr.write("error: %s\n" % exc)
        return 2


if __name__ == "__main__":
    sys.exit(main())
