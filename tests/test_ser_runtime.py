"""The device runtime: mitigation state machine, listener loop, ring buffer, resampler, actions,
and the Python 3.6 check of every module that goes to the Jetson."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from asc_toolchain.ser import features as F
from asc_toolchain.ser.runtime import (ACTIVE, COOLDOWN, Action, Listener, Mitigation, RingBuffer,
                                       StreamResampler, window_dbfs)

DEVICE_MODULES = ("features.py", "runtime.py", "device_models.py", "device_main.py")


def _drive(machine, scores, dt=0.5):
    """Feed scripted scores every dt seconds; returns [(t, event)]."""
    events = []
    for k, score in enumerate(scores):
        t = (k + 1) * dt
        name = machine.update(t, score)
        if name:
            events.append((t, name))
    return events


def test_trigger_needs_the_full_sustain_time_then_releases_below_the_lower_threshold():
    m = Mitigation(trigger=0.6, release=0.4, sustain_s=10, cooldown_s=30)
    # high from t=0.5 s: rising at 0.5, trigger once 10 s later (t=10.5)
    events = _drive(m, [0.8] * 25)
    assert events == [(10.5, "trigger")] and m.state == ACTIVE
    # between release and trigger keeps it active; below 0.4 releases
    assert m.update(13.0, 0.5) is None and m.state == ACTIVE
    assert m.update(13.5, 0.39) == "release" and m.state == COOLDOWN


def test_a_dip_below_the_trigger_restarts_the_clock():
    m = Mitigation(0.6, 0.4, sustain_s=3, cooldown_s=5)
    scores = [0.9] * 5 + [0.59] + [0.9] * 7       # 2.5 s high, dip, then 3.5 s high
    events = _drive(m, scores)
    assert events == [(6.5, "trigger")]            # rising again at 3.5 s → 3 s later


def test_cooldown_blocks_a_new_trigger_then_returns_to_calm():
    m = Mitigation(0.6, 0.4, sustain_s=1, cooldown_s=5)
    events = _drive(m, [0.9] * 3 + [0.1] + [0.9] * 16)
    names = [e[1] for e in events]
    assert names[:3] == ["trigger", "release", "ready"]
    t_release, t_ready = events[1][0], events[2][0]
    assert t_ready - t_release == pytest.approx(5.0)
    assert names[3] == "trigger" and events[3][0] >= t_ready + 1.0


def test_windows_without_speech_hold_the_state():
    m = Mitigation(0.6, 0.4, sustain_s=2, cooldown_s=5)
    assert _drive(m, [0.9, None, None, 0.9, 0.9]) == [(2.5, "trigger")]
    assert m.update(3.0, None) is None and m.state == ACTIVE


def test_release_must_be_below_trigger():
    with pytest.raises(ValueError, match="release threshold 0.60 must be below the trigger 0.50"):
        Mitigation(0.5, 0.6, 1, 1)


class _Scripted:
    """A model returning scripted probabilities in turn (anger, neutral)."""

    def __init__(self, probs):
        self.probs, self.calls = list(probs), 0

    def __call__(self, x):
        assert x.shape == (3, 128, 128)
        p = self.probs[min(self.calls, len(self.probs) - 1)]
        self.calls += 1
        return np.array(p)


def test_listener_infers_every_half_second_and_acts_once(tmp_path):
    marker = tmp_path / "acted"
    action = Action({"type": "command", "argv": [sys.executable, "-c", f"open({str(marker)!r}, 'w')"],
                     "message": "break"}, out=open(tmp_path / "log.txt", "w"))
    model = _Scripted([[0.9, 0.1]] * 12 + [[0.05, 0.95]] * 20)
    listener = Listener(model, ["anger", "neutral"], ["anger", "sadness"],
                        {"sustain_s": 2.0, "cooldown_s": 3.0, "smoothing": 1.0}, action)
    rng = np.random.default_rng(0)
    audio = (0.1 * rng.standard_normal(F.WINDOW_SAMPLES + 16000 * 15)).astype(np.float32)
    for start in range(0, len(audio), 3000):       # odd block size: hops must still be exact
        listener.feed(audio[start:start + 3000])
    action.wait()
    s = listener.summary()
    assert s["inferences"] == 1 + 15 * 2 and model.calls == s["inferences"]
    events = [(e["event"], e["t"]) for e in s["events"]]
    t0 = F.WINDOW_SAMPLES / 16000
    assert events[0] == ("trigger", round(t0 + 2.0, 2))
    assert events[1] == ("release", round(t0 + 6.0, 2))
    assert events[2] == ("ready", round(t0 + 9.0, 2))
    assert marker.is_file()                        # the command ran (argv, no shell)
    assert set(s["latency_ms"]) == {"features_ms", "inference_ms", "total_ms"}


def test_energy_gate_skips_silence():
    model = _Scripted([[1.0, 0.0]])
    listener = Listener(model, ["anger", "neutral"], ["anger"], {"gate_dbfs": -45.0})
    listener.feed(np.zeros(F.WINDOW_SAMPLES + 8000, np.float32))
    s = listener.summary()
    assert s["windows"] == 2 and s["gated"] == 2 and model.calls == 0
    assert window_dbfs(np.full(100, 0.1, np.float32)) == pytest.approx(-20.0, abs=1e-3)


def test_command_action_is_not_run_through_a_shell(tmp_path):
    out = tmp_path / "argv.txt"
    argv = [sys.executable, "-c", f"import sys; open({str(out)!r}, 'w').write(repr(sys.argv[1:]))", "a;b", "$HOME"]
    action = Action({"type": "command", "argv": argv}, out=open(tmp_path / "log.txt", "w"))
    action({"t": 1.0})
    action.wait()
    assert out.read_text() == repr(["a;b", "$HOME"])


def test_ring_buffer_keeps_the_latest_samples_in_order():
    ring = RingBuffer(5)
    ring.write(np.arange(3))
    ring.write(np.arange(3, 9))
    assert ring.total == 9 and ring.latest().tolist() == [4, 5, 6, 7, 8]


@pytest.mark.parametrize("rate", [48000, 44100])
def test_stream_resampler_keeps_a_tone_and_the_duration(rate):
    t = np.arange(rate * 2) / rate
    x = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    r = StreamResampler(rate)
    y = np.concatenate([r(x[i:i + 4410]) for i in range(0, len(x), 4410)])
    assert abs(len(y) - 32000) <= 2
    spectrum = np.abs(np.fft.rfft(y[4000:20000]))
    assert np.argmax(spectrum) * 16000 / 16000 == pytest.approx(440, abs=2)


def _vermin(*files):
    import subprocess

    pytest.importorskip("vermin", reason="vermin (test extra) checks the minimum Python version")
    exe = Path(sys.executable).with_name("vermin")
    return subprocess.run([str(exe), "-t=3.6-", "--no-tips", "--violations", "--eval-annotations",
                           *map(str, files)], capture_output=True, text=True)


def test_device_modules_run_on_python_36(tmp_path):
    """JetPack 4.6 has Python 3.6: the modules that go to the Jetson must not need more."""
    folder = Path(__import__("asc_toolchain.ser", fromlist=["x"]).__file__).parent
    out = _vermin(*(folder / name for name in DEVICE_MODULES))
    assert out.returncode == 0, out.stdout + out.stderr
    newer = tmp_path / "newer.py"                  # the checker does catch 3.8+ code
    newer.write_text("def f(xs: list[int]):\n    if (n := len(xs)) > 1:\n        print(f'{n=}')\n")
    assert _vermin(newer).returncode != 0
    import re

    for name in DEVICE_MODULES:                    # habits vermin does not flag; numpy 1.19 on JetPack
        code = (folder / name).read_text()
        assert not re.search(r"^from __future__ import annotations|^from dataclasses|^import dataclasses",
                             code, re.M), name
        assert "sliding_window_view(" not in code, name
