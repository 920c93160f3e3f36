"""The house plan holds: no import cycles, shared packages know no target, the CLI layer only
calls the library, and templates carry template tags (plain C lives in real C files)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "asc_toolchain"
SHARED = ("core", "data", "boards")            # infrastructure: no stage, no target
TARGET_PACKAGES = ("asc", "codegen", "deploy", "ser", "evaluate", "bench", "commands")


def _module(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """Every asc_toolchain module ``path`` imports, at module level or inside functions."""
    name, is_pkg = _module(path), path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = name.split(".") if is_pkg else name.split(".")[:-1]
            if node.level:
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found |= {f"{target}.{a.name}" if f"{target}.{a.name}" in modules else target for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return {m for m in found if m in modules and m != name and not name.startswith(m + ".")}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    files = {_module(p): p for p in PACKAGE.rglob("*.py")}
    return {m: _imports(p, set(files)) for m, p in files.items()}


def _cycle_from(start: str, graph: dict[str, set[str]]) -> list[str] | None:
    stack, seen = [(start, [start])], set()
    while stack:
        node, path = stack.pop()
        for nxt in sorted(graph[node]):
            if nxt == start:
                return path + [start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, path + [nxt]))
    return None


def test_no_import_cycle(graph):
    cycles = [c for m in sorted(graph) if (c := _cycle_from(m, graph))]
    assert not cycles, "import cycle: " + " → ".join(cycles[0])


@pytest.mark.parametrize("shared", SHARED)
def test_shared_packages_know_no_stage_or_target(graph, shared):
    prefix = f"asc_toolchain.{shared}"
    bad = {m: sorted(t for t in deps if t.split(".")[1] in TARGET_PACKAGES)
           for m, deps in graph.items() if m == prefix or m.startswith(prefix + ".")}
    assert not {m: d for m, d in bad.items() if d}


def test_stages_never_import_the_cli(graph):
    bad = {m: sorted(d for d in deps if d.startswith("asc_toolchain.commands") or d == "asc_toolchain.cli")
           for m, deps in graph.items() if not m.startswith(("asc_toolchain.commands", "asc_toolchain.cli"))}
    assert not {m: d for m, d in bad.items() if d}


@pytest.mark.parametrize("template", sorted((REPO / "templates").glob("*.j2")), ids=lambda p: p.name)
def test_templates_hold_template_tags(template):
    text = template.read_text(encoding="utf-8")
    assert "{{" in text or "{%" in text, f"{template.name} is plain C: make it a real C file"


BOARD_FACTS = ("b-l475e-iot01a", "98304", "4096", "115200", "0x0483")


def test_board_facts_live_only_in_the_board_file():
    """The board's name and numbers appear in its YAML and the one default, nowhere else in the package."""
    hits = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if any(fact in line for fact in BOARD_FACTS):
                hits.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    default = [h for h in hits if h.endswith('DEFAULT_BOARD = "b-l475e-iot01a"')]
    assert len(default) == 1 and default[0].startswith("asc_toolchain/boards/__init__.py:")
    assert [h for h in hits if h not in default] == []
