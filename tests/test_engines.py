"""The one engine table behind `evaluate --engine`: every name resolves to a function for each
target it lists, unknown names and wrong targets are refused before any audio is read."""

from __future__ import annotations

import pytest

from asc_toolchain.evaluate.engines import ENGINES, check_engine, get_engine


@pytest.mark.parametrize("name", sorted(ENGINES))
def test_every_entry_resolves_to_a_function(name):
    for target in ENGINES[name].entries:
        assert callable(get_engine(name, target))


def test_wrong_target_is_refused_with_the_engines_that_fit():
    from asc_toolchain.core.errors import ConfigError

    with pytest.raises(ConfigError, match="engine 'onnx' does not score stm32-asc runs") as info:
        check_engine("onnx", "stm32-asc")
    assert "keras, tflite, tflm, c, qemu" in info.value.hint


def test_cli_choice_lists_the_table(cli, synth_run):
    code, out, err = cli("evaluate", "--run", synth_run, "--engine", "bogus")
    assert code == 2 and "bogus" in err and "keras" in err
    code, out, err = cli("evaluate", "--run", synth_run, "--engine", "onnx")
    assert code == 2 and "does not score stm32-asc runs" in err
