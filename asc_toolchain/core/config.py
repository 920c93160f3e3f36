"""Options declared once: name, type, default, help. The YAML config keys, the environment
variables (ASC_TOOL_<NAME>) and the CLI flags all come from these declarations
(``cli_options``, and ``board_option`` for the one ``--board`` every board command takes).

Precedence, lowest first: defaults < config file < board file < environment < command line.
The config file is --config FILE, else ./asc-tool.yaml, else ~/.config/asc-tool/config.yaml.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import yaml

from ..boards import DEFAULT_BOARD
from .errors import ConfigError


@dataclass(frozen=True)
class Option:
    name: str
    type: Any
    default: Any
    help: str
    multiple: bool = False        # a repeatable flag; a list in the config file

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return "ASC_TOOL_" + self.name.upper()


def as_bool(value) -> bool:
    """true/false, yes/no, on/off, 1/0 (any case) → bool; ValueError otherwise."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {value!r}")


def float_list(value) -> tuple:
    """'0.9,1.0,1.1' (or a list of numbers) → (0.9, 1.0, 1.1); ValueError for anything else."""
    items = value.split(",") if isinstance(value, str) else list(value)
    out = tuple(float(v) for v in items if str(v).strip())
    if not out:
        raise ValueError(f"not a list of numbers: {value!r}")
    return out


class Finite(click.FloatRange):
    """A real number (not nan or ±inf) in a range: every option's value is checked by its
    declared type, whether it comes from a flag, the config file, the board file or the
    environment, so a count, a fraction or a duration out of range stops before any work."""

    name = "number"

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


OPTIONS = {o.name: o for o in [
    Option("epochs", click.IntRange(1), 30, "Training epochs (early stopping may end sooner)."),
    Option("batch_size", click.IntRange(1), 256, "Training batch size."),
    Option("optimizer", click.Choice(["adam", "sgd"]), "adam", "adam, or sgd (the seed's: momentum 0.9, Nesterov)."),
    Option("learning_rate", Finite(0, min_open=True), None, "Learning rate (default: 0.001 for adam, 0.01 for sgd)."),
    Option("patience", click.IntRange(0), 8, "Early stopping: epochs without a better validation UAR."),
    Option("seed", int, 0, "Random seed for split, initialisation and shuffling."),
    Option("max_seconds", Finite(0, min_open=True), None,
           "Use at most this many seconds of each recording (the seed used 30)."),
    Option("filters", str, "16,16", "Filters of the two Conv2D layers, e.g. 16,16 or 8,16."),
    Option("dense_units", click.IntRange(1), 9, "Units of the hidden Dense layer."),
    Option("model", click.Choice(["seed_cnn", "ds_cnn", "res_ds", "inverted"]), "seed_cnn",
           "Model family: the seed CNN, a DS-CNN, a residual depthwise-separable net, inverted residuals."),
    Option("width", click.IntRange(1), None, "Channels of the first block (not seed_cnn) [default: per family]."),
    Option("depth", click.IntRange(1), None, "Blocks after the stem (not seed_cnn) [default: per family]."),
    Option("class_weights", as_bool, True, "Weight classes inversely to their window counts."),
    Option("augment", click.Choice(["none", "specaugment", "mixup", "both"]), "specaugment",
           "Training-time augmentation: time/frequency masks, within-class mixing, or both."),
    Option("freq_mixstyle", click.FloatRange(0, 1), 0.5,
           "Freq-MixStyle: share of training windows whose per-band statistics are mixed with another's."),
    Option("eq_db", click.FloatRange(0), 6.0, "Random smooth equaliser of up to ± this many dB over the bands."),
    Option("time_roll", click.IntRange(0), 0, "Roll each training window in time by up to this many columns."),
    Option("reverb", click.FloatRange(0, 1), 0.0,
           "Share of training windows given a generated room's reverberation (RT60 0.2–1.2 s)."),
    Option("window_stride", click.IntRange(1), 1, "Train and validate on every Nth window of each recording "
           "(consecutive windows share all but one column; N times faster); the test split keeps every window."),
    Option("distill", str, None, "Distil from a teacher trained first on the same training split: "
           "FAMILY[:WIDTH[:DEPTH]], e.g. inverted:32:4, or efficientnet_lite0 (ImageNet weights; in cv, one teacher "
           "per fold)."),
    Option("teacher", str, None, "Distil from this trained run's model (same classes and features)."),
    Option("distill_alpha", click.FloatRange(0, 1), 0.5, "Distillation: share of the loss that follows "
           "the teacher's softened scores (the rest follows the labels)."),
    Option("distill_temperature", Finite(0, min_open=True), 2.0, "Distillation: temperature that softens "
           "both models' scores."),
    Option("n_mels", click.IntRange(1, 255), 30, "Mel bands of the log-mel features (the C front end and "
           "the firmware follow the run's value)."),
    Option("columns", click.IntRange(1, 255), 64, "Columns (frames) of one classification window: 64 is "
           "2.08 s at the default hop; 32 is the seed's 1.04 s."),
    Option("n_fft", click.IntRange(1), 1024, "FFT size of the features, a power of two; the hop "
           "is half of it (the Cortex-M4 assembly path is laid out for 1024, other sizes run in C)."),
    Option("extract_workers", click.IntRange(1), None, "Processes that compute the features of recordings "
           "not cached yet [default: the CPUs]."),
    Option("cache_dir", str, None, "Feature cache folder [default: ~/.cache/asc-tool/features]; 'none' disables."),
    Option("test_fraction", Finite(0, 1, min_open=True, max_open=True), 0.2,
           "Share of recording groups held out for the test split."),
    Option("val_fraction", Finite(0, 1, min_open=True, max_open=True), 0.15,
           "Share of the remaining groups used for validation."),
    Option("label_map", str, None, "Label map: asc3 (default), tut2016, tau2018-2020, or a YAML file."),
    Option("stedgeai_dir", str, None, "Folder holding ST Edge AI Core's stedgeai program."),
    # jetson-ser only
    Option("ser_backbone", click.Choice(["resnet34", "efficientnet-lite0"]), "efficientnet-lite0",
           "jetson-ser: backbone; efficientnet-lite0 starts from ImageNet weights of a local package, "
           "resnet34 (the seed's) from scratch or --ser-pretrained."),
    Option("ser_width", click.IntRange(1), 64,
           "jetson-ser: ResNet34 base width (64 = ResNet34; 32 trains 4× faster)."),
    Option("ser_classes", click.Choice(["7", "top4"]), "7", "jetson-ser: the 7 emotions or the top-4 subset."),
    Option("ser_corpus", str, None, "jetson-ser: keep one corpus of a mixed list (ravdess, emodb)."),
    Option("ser_pretrained", str, None, "jetson-ser: local ImageNet weights: ResNet34 .npz or .weights.h5; "
           "for efficientnet-lite0 a legacy .pth [default: the package's]."),
    Option("ser_max_windows", click.IntRange(1), 4, "jetson-ser: at most this many training windows per utterance."),
    Option("ser_step_s", Finite(0, min_open=True), 0.5, "jetson-ser: a training window every this many seconds."),
    Option("ser_specaugment", click.IntRange(0), 1, "jetson-ser: SpecAugment masks per training window: this "
           "many time bands (all channels) and mel bands, each up to 16 wide, set to 0; 0 = none "
           "(--augment none also turns them off)."),
    Option("ser_mixup", click.FloatRange(0), 0.0, "jetson-ser: mixup α: each training batch is mixed with a "
           "shuffled copy of itself, windows and labels alike, weight ~ Beta(α, α); 0 = off (0.2–0.4 is usual)."),
    Option("ser_speed", float_list, (0.9, 1.0, 1.1), "jetson-ser: speed/pitch perturbation by resampling the "
           "waveform: factors; each training utterance's windows are computed once per factor and each epoch "
           "draws as many windows as there are at 1.0; 1 = off."),
    Option("ser_noise_snr", float_list, None, "jetson-ser: additive white noise before the features: LO,HI dB; "
           "one extra noisy copy of each training utterance at an SNR drawn in [LO, HI] (e.g. 5,30)."),
    Option("ser_balanced", as_bool, False, "jetson-ser: class-balanced batches (every class about equally "
           "often in each batch); replaces the class weights."),
    Option("ser_label_smoothing", click.FloatRange(0, 1, max_open=True), 0.0,
           "jetson-ser: label smoothing ε of the cross-entropy (0.1 is usual); 0 = off."),
    Option("ser_warmup", click.IntRange(0), 0, "jetson-ser: epochs of linear learning-rate warm-up from 0 "
           "before the (cosine) schedule; useful with a pretrained backbone."),
    Option("ser_backbone_lr", click.FloatRange(0, 1), 1.0, "jetson-ser: the backbone's learning rate as a "
           "fraction of the head's (e.g. 0.1 to fine-tune a pretrained backbone gently)."),
    Option("ser_clip_score", click.Choice(["vote", "mean"]), "vote", "jetson-ser: how a clip's windows make "
           "its headline score: majority vote, or mean probability (test-time averaging); both are reported."),
    # the board (build, emulate, flash, monitor serial, generate-c, bench)
    Option("board", str, DEFAULT_BOARD, "Board name or board YAML file."),
    # monitor serial
    Option("port", str, None, "Serial device or pyserial URL (socket://, rfc2217://, loop://) "
           "[default: the port with the board file's USB vendor id]."),
    Option("baud", click.IntRange(1), None, "Baud rate [default: the board file's serial baud]."),
    Option("feed", click.Path(dir_okay=False), (), "Stream this audio into the board through the host "
           "feed (repeatable).", multiple=True),
    Option("log", click.Path(dir_okay=False), None, "Append the board's lines to FILE: .csv or .jsonl."),
    Option("count", click.IntRange(1), None, "Stop after N classifications."),
    Option("duration", Finite(0, min_open=True), None, "Stop after this many seconds."),
    Option("reconnect_timeout", Finite(0), 60.0,
           "Give up when a vanished port has not come back after this many seconds."),
]}


GDB_SERVERS = ("generic", "openocd", "pyocd", "st-util", "qemu")

# Every flash runner option (deploy/runners), declared once: the board file's runners.<name> keys,
# the environment variables and the `asc-tool flash` flags all come from this list. Precedence:
# default < board file < environment < command line (runners.core.resolve_options).
RUNNER_OPTIONS = {o.name: o for o in [
    Option("dev_id", str, None, "Serial number of the debug probe to use (when several are plugged in)."),
    Option("erase", as_bool, False, "Erase the whole flash before writing."),
    Option("verify", as_bool, True, "Read the flash back and compare it with the image."),
    Option("reset", as_bool, True, "Reset the board and start the new firmware afterwards."),
    Option("speed", click.IntRange(1), None, "SWD clock in kHz (e.g. 4000)."),
    Option("openocd_config", str, None, "OpenOCD board script (openocd runner)."),
    Option("pyocd_target", str, None, "pyOCD target name (pyocd runner)."),
    Option("cube_port", str, "SWD", "STM32CubeProgrammer connection port (cubeprogrammer runner)."),
    Option("volume", str, None, "Volume name of the ST-LINK USB drive (mass-storage runner)."),
    Option("drive", str, None, "Mount point of the ST-LINK drive; skips the search (mass-storage)."),
    Option("gdb_remote", str, "localhost:1234", "GDB server to load through, host:port (gdb runner)."),
    Option("gdb_server", click.Choice(GDB_SERVERS), "generic",
           "Kind of GDB server; picks its reset command (gdb runner)."),
    Option("serial_port", click.IntRange(1, 65535), 4444, "TCP port of the emulated board's USART1 (qemu runner)."),
    Option("gdb_port", click.IntRange(1, 65535), 1234, "TCP port of QEMU's GDB server with --halt (qemu runner)."),
    Option("halt", as_bool, False, "Start the emulated board halted with an empty flash and a GDB "
           "server, for `--runner gdb --gdb-server qemu` to flash (qemu runner)."),
    Option("timeout", Finite(0, min_open=True), None, "Seconds to wait: for the drive (mass-storage, default 30) or "
           "before stopping the emulator (qemu, default 3600)."),
]}


def find_config_file(explicit: str | None) -> Path | None:
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found", "check --config")
        return path
    for candidate in (Path("asc-tool.yaml"), Path.home() / ".config" / "asc-tool" / "config.yaml"):
        if candidate.is_file():
            return candidate
    return None


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})", "fix the file") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of option: value", "see `asc-tool config show`")
    unknown = sorted(k for k in data if k.replace("-", "_") not in OPTIONS)
    runner = [k for k in unknown if k.replace("-", "_") in RUNNER_OPTIONS]
    if runner:
        name = runner[0].replace("-", "_")
        raise ConfigError(f"{path}: {runner[0]} is a flash runner option, not read from this file",
                          f"set it in the board file's runners.<runner> block, as {RUNNER_OPTIONS[name].env}, "
                          f"or with {RUNNER_OPTIONS[name].flag}")
    if unknown:
        raise ConfigError(f"{path}: unknown option(s) {', '.join(unknown)}",
                          f"known: {', '.join(sorted(OPTIONS))}")
    return {k.replace("-", "_"): v for k, v in data.items()}


def _convert(option: Option, value, where: str):
    if value is None:
        return None
    try:
        if option.multiple:
            items = [value] if isinstance(value, (str, bytes)) else list(value)
            return tuple(_convert_one(option.type, v) for v in items)
        return _convert_one(option.type, value)
    except (ValueError, TypeError, click.BadParameter) as exc:
        raise ConfigError(f"{where}: bad value {value!r} for {option.name} ({exc})",
                          f"{option.help}") from None


def _convert_one(kind, value):
    if isinstance(kind, click.Choice):
        return kind.convert(str(value), None, None)
    if isinstance(kind, click.ParamType):
        return kind.convert(value, None, None)
    return kind(value)


def resolve(cli_values: dict, config_path: str | None = None, board_values: dict | None = None) -> dict:
    """{name: (value, source)} for every option, following the documented precedence."""
    file_path = find_config_file(config_path)
    layers = [("default", {n: o.default for n, o in OPTIONS.items()})]
    if file_path:
        layers.append((f"config file {file_path}", _read_yaml(file_path)))
    if board_values:
        layers.append(("board file", board_values))
    layers.append(("environment", {n: os.environ[o.env] for n, o in OPTIONS.items() if o.env in os.environ}))
    layers.append(("command line", {k: v for k, v in cli_values.items() if v not in (None, ()) and k in OPTIONS}))
    out = {}
    for name, option in OPTIONS.items():
        for source, values in layers:
            if name in values:
                where = option.env if source == "environment" else source
                out[name] = (_convert(option, values[name], where), source)
    return out


def resolve_runner_options(board_runners: dict | None = None, env: dict | None = None) -> dict:
    """{name: (value, source, {runner: board-file value})} for every flash runner option: its
    default or the environment's value (what every runner gets), and the values the board file's
    ``runners.<name>`` blocks set for single runners (they sit between the two for that runner)."""
    env = os.environ if env is None else env
    out = {}
    for name, option in RUNNER_OPTIONS.items():
        value, source = option.default, "default"
        if option.env in env:
            value, source = _convert(option, env[option.env], option.env), "environment"
        per_runner = {runner: block[name] for runner, block in sorted((board_runners or {}).items())
                      if isinstance(block, dict) and name in block}
        out[name] = (value, source, per_runner)
    return out


def values(resolved: dict) -> dict:
    return {name: value for name, (value, _) in resolved.items()}


def cli_options(*names: str, table: dict[str, Option] | None = None):
    """Click decorator adding the flags of the named options of ``table`` (default: OPTIONS);
    unset flags are None."""
    table = OPTIONS if table is None else table

    def deco(func):
        for name in reversed(names):
            o = table[name]
            shown = "" if o.default in (None, ()) else f" [default: {_as_typed(o.default)}]"
            kwargs = {"default": None, "help": o.help + shown}
            if o.type is as_bool:
                func = click.option(f"{o.flag}/--no-{o.flag[2:]}", name, **kwargs)(func)
            else:
                func = click.option(o.flag, name, type=o.type, multiple=o.multiple, **kwargs)(func)
        return func
    return deco


def _as_typed(value) -> str:
    """A default as a user would type it: a list of numbers comma-separated (0.9,1.0,1.1)."""
    return ",".join(str(v) for v in value) if isinstance(value, tuple) else str(value)


def board_option(func):
    """The ``--board`` flag, declared once for every command that takes it. The command receives
    the board name or file after the precedence above (config file ``board:``, ASC_TOOL_BOARD)."""
    o = OPTIONS["board"]

    def resolve_board(ctx: click.Context, param, value):
        config_path = (ctx.find_root().obj or {}).get("config_path")
        return resolve({"board": value}, config_path)["board"][0]

    return click.option(o.flag, o.name, default=None, callback=resolve_board,
                        help=f"{o.help} [default: {o.default}]")(func)
