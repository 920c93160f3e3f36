"""Label maps: source labels (TUT, TAU, a user's) → the target's classes.

Built-in maps live as YAML beside this module in labelmaps/ (tut2016, tau2018-2020); `asc3`, the default for
stm32-asc, is their union plus the three class names themselves. A user map is a YAML file
with `classes: [...]` and `map: {source: class}`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from ..core.errors import ConfigError

ASC_CLASSES = ("indoor", "outdoor", "vehicle")
BUILTIN = ("asc3", "tut2016", "tau2018-2020")


@dataclass(frozen=True)
class LabelMap:
    name: str
    classes: tuple[str, ...]
    mapping: dict[str, str] = field(default_factory=dict)

    def __call__(self, label: str) -> str | None:
        """The class for ``label`` (case-sensitive, then case-insensitive), or None if unknown."""
        if label in self.mapping:
            return self.mapping[label]
        return self._folded.get(label.lower())

    @property
    def _folded(self) -> dict[str, str]:
        return {k.lower(): v for k, v in self.mapping.items()}

    def to_dict(self) -> dict:
        return {"name": self.name, "classes": list(self.classes), "map": dict(self.mapping)}


def load_label_map(name_or_path: str | None) -> LabelMap:
    """A built-in map by name, a YAML file by path; None gives the stm32-asc default (asc3)."""
    if name_or_path in (None, "asc3"):
        merged = dict(_builtin("tut2016").mapping)
        merged.update(_builtin("tau2018-2020").mapping)
        merged.update({c: c for c in ASC_CLASSES})
        return LabelMap("asc3", ASC_CLASSES, merged)
    if name_or_path in BUILTIN:
        return _builtin(name_or_path)
    path = Path(name_or_path)
    if not path.is_file():
        raise ConfigError(f"label map {name_or_path!r} is neither built in nor a file",
                          f"use one of {', '.join(BUILTIN)} or a YAML file with classes: and map:")
    return _from_yaml(path.read_text(encoding="utf-8"), str(path))


def _builtin(name: str) -> LabelMap:
    text = (resources.files("asc_toolchain.data") / "labelmaps" / f"{name}.yaml").read_text(encoding="utf-8")
    return _from_yaml(text, name)


def _from_yaml(text: str, where: str) -> LabelMap:
    try:
        data = yaml.safe_load(text)
        classes = tuple(str(c) for c in data["classes"])
        mapping = {str(k): str(v) for k, v in data["map"].items()}
    except (yaml.YAMLError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{where}: not a valid label map ({exc})",
                          "write `classes: [a, b]` and `map: {source_label: a}`") from None
    unknown = sorted(set(mapping.values()) - set(classes))
    if unknown:
        raise ConfigError(f"{where}: map targets {unknown} are not in classes {list(classes)}",
                          "add them to classes: or fix the map")
    return LabelMap(data.get("name", Path(where).stem), classes, mapping)
