"""Static memory planner: every intermediate activation gets an offset in one arena.

Each buffer lives from the step that writes it to the last step that reads it (inclusive).
Buffers are placed greedily, largest first, at the lowest aligned offset that does not overlap
a placed buffer whose lifetime intersects its own; the arena is the highest end. Two buffers
alive at the same step never share bytes, so a step never reads what it is writing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Buffer:
    """One activation: ``size`` bytes, written at step ``first`` and last read at ``last``."""

    name: str
    size: int
    first: int
    last: int

    def overlaps_in_time(self, other: "Buffer") -> bool:
        return self.first <= other.last and other.first <= self.last


def _align(value: int, alignment: int) -> int:
    return (value + alignment - 1) // alignment * alignment


def plan(buffers: list[Buffer], alignment: int = 4) -> tuple[dict[str, int], int]:
    """Return ({name: offset}, arena_bytes) for ``buffers``; deterministic for equal inputs."""
    order = sorted(buffers, key=lambda b: (-b.size, b.first, b.name))
    placed: list[tuple[Buffer, int]] = []
    offsets: dict[str, int] = {}
    for buf in order:
        offset = _lowest_free_offset(buf, placed, alignment)
        placed.append((buf, offset))
        offsets[buf.name] = offset
    arena = max((off + b.size for b, off in placed), default=0)
    return offsets, _align(arena, alignment)


def _lowest_free_offset(buf: Buffer, placed: list[tuple[Buffer, int]], alignment: int) -> int:
    busy = sorted((off, off + other.size) for other, off in placed if other.overlaps_in_time(buf))
    offset = 0
    for start, end in busy:
        if offset + buf.size <= start:
            break
        offset = max(offset, _align(end, alignment))
    return offset


def check_plan(buffers: list[Buffer], offsets: dict[str, int]) -> None:
    """Raise AssertionError if two buffers alive at the same step share a byte (for tests)."""
    for i, a in enumerate(buffers):
        for b in buffers[i + 1:]:
            if a.overlaps_in_time(b):
                a0, b0 = offsets[a.name], offsets[b.name]
                assert a0 + a.size <= b0 or b0 + b.size <= a0, f"{a.name} overlaps {b.name}"
