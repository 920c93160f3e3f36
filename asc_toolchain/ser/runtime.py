"""The real-time loop that runs on the Jetson (Python 3.6 + numpy) and in `asc-tool listen`.

Audio → ring buffer → every ``infer_every_s`` of new audio: energy gate → features → model →
smoothed probabilities → mitigation state machine → action. Time is audio time (samples fed /
16 kHz), so a file runs faster than real time with the same decisions as live audio.

Mitigation (SPEC §8): the *negative score* is the smoothed probability of anger + sadness +
fear + disgust. States: calm → rising (score ≥ trigger) → active after ``sustain_s`` above
the trigger (the action runs once) → cooldown when the score falls below ``release`` → calm
after ``cooldown_s``. A dip below the trigger while rising starts over. Windows without speech
(below the energy gate) are skipped: they neither raise nor lower the score, and only the
cooldown clock runs on.

Python 3.6 rules here: no dataclasses, no ``from __future__ import annotations``, no walrus,
no f-string ``=``, no built-in generic annotations.
"""

import subprocess
import sys
import time

import numpy as np

from . import features as F

CALM, RISING, ACTIVE, COOLDOWN = "calm", "rising", "active", "cooldown"

DEFAULTS = {
    "infer_every_s": 0.5,
    "smoothing": 0.5,            # weight of the newest probabilities in the moving average
    "gate_dbfs": -45.0,          # window RMS below this (dB full scale) is "no speech"
    "trigger_threshold": 0.6,
    "release_threshold": 0.4,
    "sustain_s": 10.0,
    "cooldown_s": 30.0,
    "action": {"type": "print", "message": "Negative mood for a while: take a short break?"},
}


class RingBuffer(object):
    """The last ``capacity`` samples (float32); ``total`` counts every sample ever written."""

    def __init__(self, capacity):
        self.data = np.zeros(capacity, dtype=np.float32)
        self.capacity = capacity
        self.total = 0

    def write(self, samples):
        samples = np.asarray(samples, dtype=np.float32)
        self.total += max(0, len(samples) - self.capacity)     # older samples fall out at once
        samples = samples[-self.capacity:]
        n = len(samples)
        start = self.total % self.capacity
        first = min(n, self.capacity - start)
        self.data[start:start + first] = samples[:first]
        self.data[:n - first] = samples[first:]
        self.total += n

    def full(self):
        return self.total >= self.capacity

    def latest(self):
        """The buffer in time order (oldest first)."""
        start = self.total % self.capacity
        return np.concatenate([self.data[start:], self.data[:start]])


class StreamResampler(object):
    """Native rate → 16 kHz for a live stream: windowed-sinc low-pass below 7.6 kHz, then
    linear interpolation at the output instants. State carries across blocks."""

    def __init__(self, rate_in, rate_out=F.SAMPLE_RATE, taps=63):
        self.rate_in, self.rate_out = float(rate_in), float(rate_out)
        self.passthrough = int(rate_in) == int(rate_out)
        n = np.arange(taps) - (taps - 1) / 2.0
        cutoff = 0.95 * (rate_out / 2.0) / rate_in            # cycles per input sample
        h = 2 * cutoff * np.sinc(2 * cutoff * n) * np.blackman(taps)
        self.fir = (h / h.sum()).astype(np.float32)
        self.tail = np.zeros(taps - 1, dtype=np.float32)
        self.pos = 0.0                                        # next output instant, input samples

    def __call__(self, block):
        block = np.asarray(block, dtype=np.float32)
        if self.passthrough:
            return block
        x = np.concatenate([self.tail, block])
        y = np.convolve(x, self.fir, mode="valid")            # len(block) filtered samples
        self.tail = x[len(x) - len(self.tail):]
        step = self.rate_in / self.rate_out
        t = np.arange(self.pos, len(y) - 1, step)
        self.pos = (t[-1] + step - len(y)) if len(t) else self.pos - len(y)
        i = t.astype(np.int64)
        frac = (t - i).astype(np.float32)
        return y[i] * (1 - frac) + y[np.minimum(i + 1, len(y) - 1)] * frac


def window_dbfs(window):
    """RMS level of a window in dB full scale (−inf for digital silence → −200)."""
    rms = float(np.sqrt(np.mean(np.square(window, dtype=np.float64))))
    return 20.0 * np.log10(rms) if rms > 1e-10 else -200.0


class Smoother(object):
    """Exponential moving average of probability vectors."""

    def __init__(self, weight):
        self.weight = float(weight)
        self.value = None

    def __call__(self, probs):
        probs = np.asarray(probs, dtype=np.float64)
        self.value = probs if self.value is None else self.weight * probs + (1 - self.weight) * self.value
        return self.value


class Mitigation(object):
    """The trigger/release/cooldown state machine; :meth:`update` returns an event name or None."""

    def __init__(self, trigger, release, sustain_s, cooldown_s):
        if not release < trigger:
            raise ValueError("release threshold %.2f must be below the trigger %.2f" % (release, trigger))
        self.trigger, self.release = trigger, release
        self.sustain_s, self.cooldown_s = sustain_s, cooldown_s
        self.state, self.since = CALM, 0.0

    def update(self, t, score):
        """Advance to audio time ``t`` with the negative ``score`` (None: no speech)."""
        if self.state == COOLDOWN and t - self.since >= self.cooldown_s:
            self.state, self.since = CALM, t
            return "ready"
        if score is None:
            return None
        if self.state == CALM and score >= self.trigger:
            self.state, self.since = RISING, t
        elif self.state == RISING and score < self.trigger:
            self.state, self.since = CALM, t
        if self.state == RISING and t - self.since >= self.sustain_s:
            self.state, self.since = ACTIVE, t
            return "trigger"
        if self.state == ACTIVE and score < self.release:
            self.state, self.since = COOLDOWN, t
            return "release"
        return None


class Action(object):
    """What a trigger does: print a message, run a command (argv list, no shell), play a sound."""

    def __init__(self, spec, out=None):
        self.spec = dict(spec or DEFAULTS["action"])
        self.out = out or sys.stderr
        self.children = []

    def __call__(self, event):
        kind = self.spec.get("type", "print")
        if kind == "command":
            self.children.append(subprocess.Popen(list(self.spec["argv"])))
        elif kind == "sound":
            player = list(self.spec.get("player") or ["aplay", "-q"])
            self.children.append(subprocess.Popen(player + [self.spec["sound"]]))
        self.out.write("[%8.1f s] %s\n" % (event["t"], self.spec.get("message", DEFAULTS["action"]["message"])))

    def wait(self, timeout=10.0):
        for child in self.children:
            child.wait(timeout)


class Listener(object):
    """The worker: feed it 16 kHz audio; it infers every ``infer_every_s`` and keeps events."""

    def __init__(self, model, class_names, negative, settings=None, action=None, on_event=None):
        s = dict(DEFAULTS)
        s.update(settings or {})
        self.s, self.model, self.class_names = s, model, list(class_names)
        self.negative_idx = [self.class_names.index(c) for c in negative if c in self.class_names]
        self.ring = RingBuffer(F.WINDOW_SAMPLES)
        self.hop = int(round(s["infer_every_s"] * F.SAMPLE_RATE))
        self.next_at = F.WINDOW_SAMPLES
        self.smoother = Smoother(s["smoothing"])
        self.machine = Mitigation(s["trigger_threshold"], s["release_threshold"], s["sustain_s"], s["cooldown_s"])
        self.action = action or Action(s["action"])
        self.on_event = on_event
        self.latency = {"features_ms": [], "inference_ms": [], "total_ms": []}
        self.events, self.windows, self.gated = [], 0, 0

    def feed(self, samples):
        """Add 16 kHz samples; runs every inference now due. Returns the events they caused."""
        samples = np.asarray(samples, dtype=np.float32)
        new, done = [], 0
        while done < len(samples):
            take = min(len(samples) - done, self.next_at - self.ring.total)
            self.ring.write(samples[done:done + take])
            done += take
            if self.ring.total >= self.next_at:
                new.extend(self._step())
                self.next_at += self.hop
        return new

    def _step(self):
        t = self.ring.total / float(F.SAMPLE_RATE)
        window = self.ring.latest()
        self.windows += 1
        if window_dbfs(window) < self.s["gate_dbfs"]:
            self.gated += 1
            return self._emit(t, self.machine.update(t, None), None)
        t0 = time.perf_counter()
        x = F.window_features(window)
        t1 = time.perf_counter()
        probs = self.model(x)
        t2 = time.perf_counter()
        smooth = self.smoother(probs)
        self.latency["features_ms"].append((t1 - t0) * 1e3)
        self.latency["inference_ms"].append((t2 - t1) * 1e3)
        self.latency["total_ms"].append((time.perf_counter() - t0) * 1e3)
        score = float(np.sum(smooth[self.negative_idx])) if self.negative_idx else 0.0
        return self._emit(t, self.machine.update(t, score), smooth)

    def _emit(self, t, name, smooth):
        if name is None:
            return []
        event = {"t": round(t, 2), "event": name, "state": self.machine.state}
        if smooth is not None:
            event["negative"] = round(float(np.sum(smooth[self.negative_idx])), 3)
            event["top"] = self.class_names[int(np.argmax(smooth))]
        if name == "trigger":
            self.action(event)
        self.events.append(event)
        if self.on_event is not None:
            self.on_event(event)
        return [event]

    def summary(self):
        """Counts, events and per-stage latency (mean / p95, ms)."""
        stages = {}
        for key, values in self.latency.items():
            if values:
                stages[key] = {"mean": round(float(np.mean(values)), 3),
                               "p95": round(float(np.percentile(values, 95)), 3)}
        return {"windows": self.windows, "gated": self.gated, "inferences": len(self.latency["total_ms"]),
                "audio_s": round(self.ring.total / float(F.SAMPLE_RATE), 2), "events": list(self.events),
                "latency_ms": stages, "state": self.machine.state}
