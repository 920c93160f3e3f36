"""The `--backend stedgeai` path: ST Edge AI Core's code generator, when it is installed, and
the reader of its reports.

`locate` finds the `stedgeai` program (a folder from the `stedgeai_dir` option, which the config
file or ASC_TOOL_STEDGEAI_DIR set, else PATH); `generate` runs
`stedgeai generate --model M --target stm32l4 --name asc --output DIR [extra args]` through an
executor and reads the report it writes. Nothing falls back silently: a missing tool is a
ToolMissingError.

`read_report` takes a report folder (or one report file) of ST Edge AI Core 1.x and returns the
keys of the builtin backend's report: ``weights_bytes``, ``activations_bytes``, ``io_bytes``,
``macc``, ``input``/``output`` and ``layers`` (one row per generated C layer: name, kind, op,
output shape, MACC, weight bytes). Two forms exist:

- the JSON reports (``*_report.json`` with the totals, ``*_c_graph.json`` with the C layers and
  arrays, ``*_c_info.json`` with the nodes and buffers), preferred when present;
- the text report (``<name>_generate_report.txt``): the summary block (``macc``, ``weights (ro)``,
  ``activations (rw)``, ``input``/``output``) and the ``C-Layers`` table.

Unknown or damaged content is a ToolFailedError naming the file.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from ..core.errors import ConfigError, ToolFailedError, ToolMissingError

PROGRAM = "stedgeai"
WHERE_TO_GET = ("install ST Edge AI Core (https://www.st.com/en/development-tools/stedgeai-core.html, "
                "free with an ST account), then put stedgeai on PATH or set ASC_TOOL_STEDGEAI_DIR "
                "(or stedgeai_dir in asc-tool.yaml) to its folder; or use --backend builtin")
REPORT_FILE = "asc_generate_report.txt"
# Sub-folders of an ST Edge AI Core installation that hold the program.
_SUBDIRS = ("", "Utilities/linux", "Utilities/windows", "Utilities/mac", "bin")
# Where `stedgeai generate` leaves its reports, relative to --output (the workspace holds the JSON).
_REPORT_DIRS = (".", "st_ai_ws", "stm32ai_ws")
_DAMAGED_HINT = ("regenerate it with `stedgeai generate` (ST Edge AI Core 1.x); the file is "
                 "incomplete or of another format")
_BYTES = {"s8": 1, "u8": 1, "int8": 1, "uint8": 1, "s16": 2, "u16": 2, "int16": 2, "s32": 4,
          "u32": 4, "int32": 4, "float": 4, "float32": 4, "f32": 4}


def locate(stedgeai_dir: str | Path | None = None) -> Path:
    """Path of the stedgeai program; ToolMissingError saying where to get it."""
    if stedgeai_dir:
        for sub in _SUBDIRS:
            for name in (PROGRAM, PROGRAM + ".exe"):
                candidate = Path(stedgeai_dir) / sub / name
                if candidate.is_file():
                    return candidate
        raise ToolMissingError(f"{stedgeai_dir}: no {PROGRAM} program in this folder", WHERE_TO_GET)
    found = shutil.which(PROGRAM)
    if not found:
        raise ToolMissingError(f"{PROGRAM} (ST Edge AI Core) not found on PATH", WHERE_TO_GET)
    return Path(found)


def generate_argv(program: Path, model: Path, out_dir: Path, extra_args=()) -> list[str]:
    """The exact command line `generate` runs."""
    return [str(program), "generate", "--model", str(model), "--target", "stm32l4",
            "--name", "asc", "--output", str(out_dir), *[str(a) for a in extra_args]]


def generate(model: Path, out_dir: Path, *, stedgeai_dir=None, extra_args=(), executor=None) -> dict:
    """Run ST's generator into ``out_dir`` and return its figures (read_report's keys)."""
    from ..core.executor import Executor

    program = locate(stedgeai_dir)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    proc = (executor or Executor()).run(generate_argv(program, Path(model), out_dir, extra_args),
                                        timeout=600)
    if report_files(out_dir):
        report = read_report(out_dir)
    else:   # no report file: the summary printed on stdout has the same figures
        report = parse_report(proc.stdout.decode("utf-8", "replace"), f"{program} output")
    report["program"] = str(program)
    return report


# -- finding the reports -------------------------------------------------------------------------

def report_files(folder: Path) -> dict[str, Path]:
    """The report files of one `stedgeai generate` in ``folder`` (or its workspace sub-folder):
    {"report": …_report.json, "c_graph": …, "c_info": …, "text": …_generate_report.txt}."""
    found: dict[str, Path] = {}
    for sub in _REPORT_DIRS:
        d = Path(folder) / sub
        if not d.is_dir():
            continue
        # a generate report before any other text report of the same folder
        for path in sorted(d.iterdir(), key=lambda p: (not p.name.endswith("_generate_report.txt"), p.name)):
            kind = _kind_of(path)
            if kind and kind not in found:
                found[kind] = path
    return found


def _kind_of(path: Path) -> str | None:
    name = path.name
    if not path.is_file():
        return None
    if name.endswith("_c_graph.json"):
        return "c_graph"
    if name.endswith("_c_info.json"):
        return "c_info"
    if name.endswith("_report.json"):
        return "report"
    if name.endswith("_report.txt"):
        return "text"
    return None


def read_report(path: str | Path) -> dict:
    """Figures of an ST Edge AI Core report folder or file, in the builtin backend's keys.
    The JSON reports are read when the folder has them, the text report otherwise."""
    path = Path(path)
    if path.is_dir():
        files = report_files(path)
        if not files:
            raise ConfigError(f"{path}: no ST Edge AI Core report here (*_report.json, *_c_graph.json, "
                              "*_c_info.json or *_generate_report.txt)",
                              "pass the --output folder of `stedgeai generate`, or one report file")
    elif path.is_file():
        kind = _kind_of(path)
        if kind is None:
            raise ConfigError(f"{path}: not an ST Edge AI Core report file",
                              "give a *_report.json, *_c_graph.json, *_c_info.json or *_report.txt")
        files = {kind: path}
    else:
        raise ConfigError(f"{path}: no such file or folder", "pass a stedgeai report folder or file")
    if files.keys() & {"report", "c_graph", "c_info"}:
        files = {k: v for k, v in files.items() if k != "text"}
        out = _from_json(files)
    else:
        out = parse_report(_read_text(files["text"]), str(files["text"]))
    out["report_files"] = [str(p) for p in files.values()]
    return out


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})", "check the path") from None


def _load_json(path: Path) -> dict:
    try:
        data = json.loads(_read_text(path))
    except ValueError as exc:
        raise ToolFailedError(f"{path}: not valid JSON ({exc})", _DAMAGED_HINT) from None
    if not isinstance(data, dict):
        raise ToolFailedError(f"{path}: a JSON {type(data).__name__}, not a stedgeai report",
                              _DAMAGED_HINT)
    return data


# -- JSON reports --------------------------------------------------------------------------------

def _from_json(files: dict[str, Path]) -> dict:
    docs = {kind: _load_json(p) for kind, p in files.items()}
    out: dict = {"backend": "stedgeai", "report_format": "json"}
    where = ""
    try:
        if "report" in docs:
            where = str(files["report"])
            r = docs["report"]
            out.update(weights_bytes=_int(r["rom_size"]), activations_bytes=_int(r["ram_size"]),
                       macc=_int(r["rom_n_macc"]))
            io = [_int(b["c_size"]) for b in (*r.get("rom_inputs", ()), *r.get("rom_outputs", ()))]
            if io:
                out["io_bytes"] = sum(io)
            version = r.get("tools_version") or r.get("cli_version_str")
        if "c_graph" in docs:
            where = str(files["c_graph"])
            g = docs["c_graph"]
            arrays = {a["name"]: a for a in g["c_arrays"]}
            out.setdefault("weights_bytes", _int(g["memory_footprint"]["weights"]))
            out.setdefault("activations_bytes", _int(g["memory_footprint"]["activations"]))
            out.setdefault("macc", _int(g["macc"]))
            out["layers"] = [_c_graph_layer(layer, arrays) for layer in g["c_layers"]]
            out["layers_level"] = "c"
            out["input"] = _c_graph_io(g["inputs"][0], arrays)
            out["output"] = _c_graph_io(g["outputs"][0], arrays)
            version = out.get("stedgeai_version") or g.get("tool_version")
            out["stedgeai_version"] = version
        if "c_info" in docs:
            where = str(files["c_info"])
            c = docs["c_info"]
            buffers = {b["id"]: b for b in c["buffers"]}
            nodes = c["graphs"][0]["nodes"]
            out.setdefault("weights_bytes", _int(c["memory_footprint"]["weights"]))
            out.setdefault("activations_bytes", _int(c["memory_footprint"]["activations"]))
            out.setdefault("macc", sum(_int(n["macc"]) for n in nodes))
            if "layers" not in out:
                out["layers"] = [_c_info_layer(n, buffers) for n in nodes]
                out["layers_level"] = "c"
            if "input" not in out:
                graph = c["graphs"][0]
                out["input"] = _c_info_io(buffers[graph["inputs"][0]])
                out["output"] = _c_info_io(buffers[graph["outputs"][0]])
        if "layers" not in out and "report" in docs:
            where = str(files["report"])
            out["layers"] = [_model_layer(layer) for layer in docs["report"]["layers"]
                             if layer.get("type") not in ("Input", "Placeholder")]
            out["layers_level"] = "model"   # before fusion: their MACC sum exceeds the C total
        if "report" in docs:
            out["stedgeai_version"] = version or out.get("stedgeai_version")
            if out.get("layers_level") == "c":
                _name_ops(out["layers"], docs, _original_ops(docs["report"]["layers"]))
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        raise ToolFailedError(f"{where}: missing or malformed field {exc!s} in the stedgeai report",
                              _DAMAGED_HINT) from None
    if "io_bytes" not in out and "input" in out:
        out["io_bytes"] = out["input"]["bytes"] + out["output"]["bytes"]
    if not out.get("stedgeai_version"):
        out.pop("stedgeai_version", None)
    return out


def _original_ops(layers) -> dict[int, str]:
    """{model layer id: the TFLite op it came from} of a *_report.json's model layers."""
    ops: dict[int, str] = {}
    for layer in layers:
        if layer.get("original"):
            ops.setdefault(int(layer["id"]), layer["original"])
    return ops


def _name_ops(layers: list[dict], docs: dict, ops: dict[int, str]) -> None:
    """Give each C layer the TFLite op of the model layer it was generated from."""
    if "c_graph" in docs:
        ids = [layer.get("m_id") for layer in docs["c_graph"]["c_layers"]]
    else:
        ids = [int(n["original_nodes"][0]) if n.get("original_nodes") else None
               for n in docs["c_info"]["graphs"][0]["nodes"]]
    for row, m_id in zip(layers, ids):
        if m_id is not None and int(m_id) in ops:
            row["op"] = ops[int(m_id)]


def _int(value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or value < 0:
        raise ValueError(f"{value!r} (not a count)")
    return int(value)


def _c_graph_layer(layer: dict, arrays: dict) -> dict:
    outs = layer["tensors"]["outputs"]
    shape = None
    if outs:
        a = arrays.get(outs[0] + "_array")
        if a and a.get("tensors"):
            shape = [int(v) for v in a["tensors"][0]["shape"]]
    return {"name": layer["name"], "kind": layer["layer_type"], "op": layer["layer_type"],
            "output_shape": shape, "macc": _int(layer["macc"]), "weights_bytes": _int(layer["rom"])}


def _c_graph_io(name: str, arrays: dict) -> dict:
    a = arrays[name + "_array"]
    return {"name": name, "shape": [int(v) for v in a["tensors"][0]["shape"]], "type": a["format"],
            "bytes": _int(a["c_size_in_byte"]), "scale": float(a["scale"][0]) if a["scale"] else None,
            "zero_point": int(a["zeropoint"][0]) if a["zeropoint"] else None}


def _c_info_layer(node: dict, buffers: dict) -> dict:
    params = [buffers[i] for i in node["inputs"] if buffers[i].get("is_param")]
    outs = [buffers[i] for i in node["outputs"]]
    return {"name": node["name"], "kind": node["description"], "op": node["description"],
            "output_shape": [int(v) for v in outs[0]["shape"]] if outs else None,
            "macc": _int(node["macc"]), "weights_bytes": sum(_int(b["size_bytes"]) for b in params)}


def _c_info_io(b: dict) -> dict:
    q = b.get("intq") or {}
    return {"name": b["name"], "shape": [int(v) for v in b["shape"]],
            "type": str(b["format"]).replace("STAI_FORMAT_", "").lower(), "bytes": _int(b["size_bytes"]),
            "scale": float(q["scales"][0]) if q.get("scales") else None,
            "zero_point": int(q["offsets"][0]) if q.get("offsets") else None}


def _model_layer(layer: dict) -> dict:
    e = layer["extras"]
    rom = e.get("rom_output") or {}
    return {"name": layer["name"], "kind": layer["type"], "op": layer.get("original") or layer["type"],
            "output_shape": rom.get("shape"), "macc": _int(e["n_macc"]),
            "weights_bytes": _int(e.get("psize", 0))}


# -- text report ---------------------------------------------------------------------------------

_NUM = r"([\d,]+)"
_FIELDS = {
    "macc": re.compile(rf"^\s*macc\s*:\s*{_NUM}", re.M),
    "weights_bytes": re.compile(rf"^\s*weights \(ro\)\s*:\s*{_NUM}\s*B", re.M),
    "activations_bytes": re.compile(rf"^\s*activations \(rw\)\s*:\s*{_NUM}\s*B", re.M),
}
_RAM_TOTAL = re.compile(rf"^\s*ram \(total\)\s*:\s*{_NUM}\s*B", re.M)
_IO = re.compile(r"^\s*(input|output) 1/\d+\s*:\s*'([^']*)',\s*(\w+)\(([\dx]+)\),\s*([\d.,]+)\s*(\w*)Bytes"
                 r"(?:,\s*QLinear\(([-\d.e]+),\s*(-?\d+))?", re.M)
_VERSION = re.compile(r"^(?:ST Edge AI Core|Neural Network Tools for STM32).*?v([\d.]+)", re.M)
_C_LAYERS = re.compile(r"^C-Layers \((\d+)\)\s*$", re.M)
_C_LAYER_ROW = re.compile(r"^(\d+)\s+(\S+)\s+(\d+)\s+(\S+)\s+(\d+)\s+(\d+)\s+I:", re.M)
_MODEL_ROW = re.compile(r"^(\d+)?\s+\S+ \(\w+, (\w*)\)\s+\[")
_OUT_SHAPE = re.compile(r"^\s+O:\s+\S+\s+\w+\(([\dx]+)\)", re.M)


def parse_report(text: str, where: str = REPORT_FILE) -> dict:
    """Figures of an ST Edge AI Core text report (`<name>_generate_report.txt`, or the summary
    stedgeai prints); ToolFailedError naming the file and the missing field."""
    out: dict = {"backend": "stedgeai", "report_format": "text"}
    for key, pattern in _FIELDS.items():
        m = pattern.search(text)
        if not m:
            raise ToolFailedError(f"{where}: no '{key}' figure in the stedgeai report", _DAMAGED_HINT)
        out[key] = int(m.group(1).replace(",", ""))
    m = _RAM_TOTAL.search(text)
    if m:
        out["ram_total_bytes"] = int(m.group(1).replace(",", ""))
    for m in _IO.finditer(text):
        kind, name, dtype, dims = m.group(1), m.group(2), m.group(3), m.group(4)
        shape = [int(v) for v in dims.split("x")]
        n = 1
        for v in shape:
            n *= v
        out.setdefault(kind, {"name": name, "shape": shape, "type": dtype,
                              "bytes": n * _BYTES.get(dtype, 1),
                              "scale": float(m.group(7)) if m.group(7) else None,
                              "zero_point": int(m.group(8)) if m.group(8) else None})
    if "input" in out or "output" in out:
        out["input_bytes"] = out.get("input", {}).get("bytes", 0)
        out["output_bytes"] = out.get("output", {}).get("bytes", 0)
        out["io_bytes"] = out["input_bytes"] + out["output_bytes"]
    m = _VERSION.search(text)
    if m:
        out["stedgeai_version"] = m.group(1)
    table = _C_LAYERS.search(text)
    if table:
        out["layers"] = _text_layers(text[table.end():], int(table.group(1)), where)
        out["layers_level"] = "c"
        ops = _text_ops(text[:table.start()])
        for row in out["layers"]:
            row["op"] = ops.get(row.pop("m_id"), row["op"])
    return out


def _text_ops(text: str) -> dict[int, str]:
    """{m_id: TFLite op} from the model table (rows 'name (Type, ORIGINAL_OP)')."""
    ops: dict[int, str] = {}
    m_id = None
    for line in text.splitlines():
        m = _MODEL_ROW.match(line)
        if not m:
            continue
        if m.group(1):
            m_id = int(m.group(1))
        if m_id is not None and m.group(2):
            ops.setdefault(m_id, m.group(2))
    return ops


def _text_layers(text: str, count: int, where: str) -> list[dict]:
    """Rows of the C-Layers table (it ends at the first blank line)."""
    body = text.split("\n\n", 1)[0]
    rows = list(_C_LAYER_ROW.finditer(body))
    if len(rows) != count:
        raise ToolFailedError(f"{where}: the C-Layers table announces {count} layers but has "
                              f"{len(rows)} readable rows", _DAMAGED_HINT)
    layers = []
    for k, m in enumerate(rows):
        block = body[m.start():rows[k + 1].start() if k + 1 < len(rows) else len(body)]
        shape = _OUT_SHAPE.search(block)
        layers.append({"name": m.group(2), "kind": m.group(4), "op": m.group(4),
                       "output_shape": [int(v) for v in shape.group(1).split("x")] if shape else None,
                       "macc": int(m.group(5)), "weights_bytes": int(m.group(6)),
                       "m_id": int(m.group(3))})
    return layers
