"""The dataset recipes in datasets/ name a real target, list form and label map, and their
train command parses with the real CLI."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml

RECIPES = sorted((Path(__file__).resolve().parents[1] / "datasets").glob("*.yaml"))


def test_recipes_exist():
    assert len(RECIPES) >= 4


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_recipe_is_usable(path):
    from asc_toolchain.cli import cli
    from asc_toolchain.data.labelmaps import load_label_map

    recipe = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert recipe["name"] == path.stem
    assert recipe["target"] in ("stm32-asc", "jetson-ser")
    assert recipe["form"] in ("csv", "tut-meta", "folders")
    if recipe["label_map"]:
        assert load_label_map(recipe["label_map"]).classes == ("indoor", "outdoor", "vehicle")
    argv = shlex.split(recipe["train"])
    assert argv[:2] == ["asc-tool", "train"]
    ctx = cli.make_context("asc-tool", argv[1:], resilient_parsing=False)
    sub = cli.get_command(ctx, argv[1])
    params = sub.make_context("train", argv[2:]).params
    assert params["out"]
    assert ("jetson-ser" in argv) == (recipe["target"] == "jetson-ser")
