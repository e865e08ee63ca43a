"""Kill and resume (the reduced CI version of ``benchmarks/kill_resume.py``): training killed
with SIGKILL three times, once at a random moment and twice inside a checkpoint write, ends with
the weights of an uninterrupted run, bit for bit, after as many optimizer steps, every committed
checkpoint loading after every kill; and the harness catches each of its two negative controls,
a non-atomic checkpoint writer and a resume that forgets the random generators."""

import importlib.util
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).parents[2] / "benchmarks"
SEED = 7


@pytest.fixture(scope="module")
def harness():
    """``benchmarks/kill_resume.py``, importable by the processes it forks (the benchmarks
    folder is no package)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(BENCHMARKS))
        spec = importlib.util.spec_from_file_location("kill_resume", BENCHMARKS / "kill_resume.py")
        module = importlib.util.module_from_spec(spec)
        patch.setitem(sys.modules, "kill_resume", module)
        spec.loader.exec_module(module)
        yield module


@pytest.fixture(scope="module")
def uninterrupted(harness, tmp_path_factory):
    return harness.run_with_kills(tmp_path_factory.mktemp("uninterrupted"), [], SEED, None, False)


def test_killed_three_times_the_run_ends_bit_for_bit_as_an_uninterrupted_one(
    harness, uninterrupted, tmp_path
):
    outcome = harness.run_with_kills(tmp_path, ["write", "any", "write"], SEED, None, False)
    assert outcome.kills >= 2, "the kills came after the run had finished"
    assert harness.faults(outcome, uninterrupted) == []
    assert outcome.steps == 6 * 4  # epochs times batches of 4 out of 16


@pytest.mark.parametrize(
    "control, fault",
    [
        ("in-place", "unloadable committed checkpoint after a kill: epoch-0002: "),
        ("no-rng", "the final weights differ from the uninterrupted run's"),
    ],
)
def test_the_harness_catches_each_negative_control(
    harness, uninterrupted, tmp_path, control, fault
):
    outcome = harness.run_with_kills(tmp_path, ["write"], SEED, control, False)
    assert outcome.kills == 1
    assert any(found.startswith(fault) for found in harness.faults(outcome, uninterrupted))
