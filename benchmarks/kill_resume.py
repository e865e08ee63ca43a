"""Kill training with SIGKILL again and again, resume it each time, and check nothing was lost.

A tiny maxwell run (6 epochs, a 2-layer GRU with dropout, so every random generator matters) is
killed at seeded random moments: ``any`` moment (with fresh interpreters, often during import),
or during a checkpoint ``write`` (the ``CONVREC_CHECKPOINT_WRITE_DELAY`` hook of
:mod:`convrec.train.storage` slows each write down so that the kill lands inside it). After each
kill the next attempt resumes the run directory. The run passes when

- after every kill, every committed checkpoint (one with a manifest) loads with weights only;
- the final ``model.safetensors`` has the SHA-256 of an uninterrupted run's;
- the optimizer took as many steps as in the uninterrupted run;
- no temporary ``.*.tmp`` file is left in the run directory.

Two negative controls must fail it, showing the harness sees a fault when there is one:
``--control in-place`` writes each checkpoint straight into its folder, manifest first (no
temporary folder, no rename, no commit marker); ``--control no-rng`` resumes without restoring
the random generators.

Usage:
    python benchmarks/kill_resume.py [--kills 20] [--seed 0] [--control in-place|no-rng]
        [--fork] [--out DIR] [--json result.json]

By default every attempt is a fresh interpreter (``python benchmarks/kill_resume.py --attempt``);
``--fork`` forks attempts from a server that has imported convrec once, which is what the reduced
CI version in ``tests/train/test_resume.py`` does (3 kills and both controls).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import multiprocessing
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from convrec.train import checkpoint, storage
from convrec.train.checkpoint import checkpoint_folders, read_checkpoint
from convrec.train.run import train
from convrec.train.safe_load import UnsafeCheckpointError
from convrec.train.storage import MANIFEST, WRITE_DELAY_VARIABLE, CorruptCheckpointError

OPTIONS = {
    "epochs": 6,
    "batch_size": 4,
    "model": "gru",
    "model_options": {"hidden_size": 8, "num_layers": 2, "dropout": 0.2},
    "task_options": {
        "train_size": 16,
        "validation_size": 8,
        "test_size": 1,
        "segments": 2,
        "steps_per_segment": 10,
    },
}
CONTROLS = ("in-place", "no-rng")


@dataclass(frozen=True)
class Attempt:
    """One attempt at the run in ``out``: a new run, or a resume of the one there."""

    out: str
    control: str | None = None
    write_delay: float = 0.0


@dataclass
class Outcome:
    """What a run through its kills ended with."""

    sha256: str  # of the final model.safetensors
    steps: int  # optimizer steps, from the newest checkpoint
    kills: int  # kills that landed while an attempt was running
    unloadable: list[str]  # committed checkpoints that did not load after a kill
    leftovers: list[str]  # temporary files left after the final attempt


def attempt(spec: Attempt) -> None:
    """Train, or resume the run directory in ``spec.out`` (run in a child process)."""
    if spec.write_delay:
        os.environ[WRITE_DELAY_VARIABLE] = str(spec.write_delay)
    if spec.control == "in-place":
        checkpoint.commit = _commit_in_place
    elif spec.control == "no-rng":
        checkpoint.restore_random_state = lambda state, device: None
    directory = run_directory(Path(spec.out))
    if directory is None:
        train("maxwell", progress=False, out=spec.out, **OPTIONS)
    else:
        train("maxwell", resume=directory, progress=False)


def _commit_in_place(directory: Path, files: dict[str, bytes]) -> Path:
    """The ``in-place`` control: the manifest first, then each file straight into its final
    place (slowly, with the write delay hook), overwriting what is there."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MANIFEST).write_bytes(storage.manifest_bytes(files))
    for name, data in files.items():
        (directory / name).unlink(missing_ok=True)
        storage.write_file(directory / name, data)
    return directory


def run_directory(out: Path) -> Path | None:
    """The run directory in ``out`` (run directories appear whole, with their config)."""
    found = [path for path in out.glob("maxwell-*") if path.is_dir()] if out.is_dir() else []
    return found[0] if found else None


class Child:
    """An attempt in a fresh interpreter, or forked from a server that has imported convrec."""

    def __init__(self, spec: Attempt, fresh_interpreter: bool) -> None:
        if fresh_interpreter:
            arguments = [sys.executable, __file__, "--attempt", json.dumps(asdict(spec))]
            self.process = subprocess.Popen(arguments)
            self.running: Callable[[], bool] = lambda: self.process.poll() is None
        else:
            self.process = _forkserver().Process(target=attempt, args=(spec,))
            self.process.start()
            self.running = self.process.is_alive

    def kill(self) -> None:
        self.process.kill()

    def wait(self) -> int:
        if isinstance(self.process, subprocess.Popen):
            return self.process.wait()
        self.process.join()
        code = self.process.exitcode
        self.process.close()
        return code


@functools.cache
def _forkserver() -> multiprocessing.context.BaseContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["convrec.train.run"])
    return context


def run_with_kills(
    out: Path,
    moments: Sequence[str],
    seed: int,
    control: str | None = None,
    fresh_interpreter: bool = True,
    write_delay: float = 0.2,
    horizon: float = 3.0,
) -> Outcome:
    """Kill an attempt at each of ``moments`` (``'any'``: uniformly within ``horizon`` seconds
    of its start; ``'write'``: inside the first checkpoint write after one is committed), then
    let a last attempt finish; return what it ended with."""
    generator = random.Random(seed)
    kills, unloadable = 0, []
    for moment in moments:
        child = Child(Attempt(str(out), control, write_delay), fresh_interpreter)
        if moment == "write":
            if _wait_for_a_write(child, out):
                _sleep_while(child, generator.uniform(0.1, 0.9) * write_delay)
        else:
            _sleep_while(child, generator.uniform(0.0, horizon))
        if child.running():
            child.kill()
            kills += 1
        child.wait()
        unloadable += [item for item in _unloadable(out) if item not in unloadable]
    final = Child(Attempt(str(out), control), fresh_interpreter)
    code = final.wait()
    directory = run_directory(out)
    if code != 0 or directory is None:
        raise RuntimeError(f"the last attempt in {out} failed with exit code {code}")
    newest = checkpoint_folders(directory / "checkpoints")[0]
    return Outcome(
        sha256=hashlib.sha256((directory / "model.safetensors").read_bytes()).hexdigest(),
        steps=read_checkpoint(newest)["fit"]["step"],
        kills=kills,
        unloadable=unloadable,
        leftovers=[str(path) for path in sorted(directory.rglob(".*.tmp"))],
    )


def faults(outcome: Outcome, reference: Outcome) -> list[str]:
    """Everything that shows a run lost or damaged something, against an uninterrupted one."""
    found = [f"unloadable committed checkpoint after a kill: {item}" for item in outcome.unloadable]
    found += [f"temporary file left: {item}" for item in outcome.leftovers]
    if outcome.sha256 != reference.sha256:
        found.append("the final weights differ from the uninterrupted run's")
    if outcome.steps != reference.steps:
        found.append(f"{outcome.steps} optimizer steps, {reference.steps} uninterrupted")
    return found


def _wait_for_a_write(child: Child, out: Path) -> bool:
    """Wait until a checkpoint write begins (a new entry in ``checkpoints/``) once one is
    committed; False if the attempt ends first."""
    seen = None
    while child.running():
        directory = run_directory(out)
        folder = directory / "checkpoints" if directory else None
        names = {path.name for path in folder.iterdir()} if folder and folder.is_dir() else set()
        committed = folder is not None and any(folder.glob(f"epoch-*/{MANIFEST}"))
        if seen is not None and names - seen:
            return True
        if committed and seen is None:
            seen = names
        time.sleep(0.002)
    return False


def _sleep_while(child: Child, seconds: float) -> None:
    end = time.monotonic() + seconds
    while child.running() and time.monotonic() < end:
        time.sleep(0.005)


def _unloadable(out: Path) -> list[str]:
    """The committed checkpoints of the run in ``out`` that do not load, with why."""
    directory = run_directory(out)
    problems = []
    for folder in checkpoint_folders(directory / "checkpoints") if directory else []:
        if (folder / MANIFEST).is_file():
            try:
                read_checkpoint(folder)
            except (CorruptCheckpointError, UnsafeCheckpointError) as error:
                problems.append(f"{folder.name}: {error}")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--control", choices=CONTROLS)
    parser.add_argument("--fork", action="store_true", help="fork attempts from a server")
    parser.add_argument("--write-delay", type=float, default=0.2)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--attempt", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.attempt:
        attempt(Attempt(**json.loads(arguments.attempt)))
        return
    from provenance import revision

    measured_revision = revision()
    out = arguments.out or Path(tempfile.mkdtemp(prefix="kill-resume-"))
    moments = random.Random(arguments.seed).choices(["any", "write"], k=arguments.kills)
    fresh = not arguments.fork
    horizon = 20.0 if fresh else 3.0  # a fresh interpreter spends seconds importing
    reference = run_with_kills(out / "uninterrupted", [], arguments.seed, fresh_interpreter=fresh)
    outcome = run_with_kills(
        out / "killed",
        moments,
        arguments.seed,
        arguments.control,
        fresh,
        arguments.write_delay,
        horizon,
    )
    found = faults(outcome, reference)
    result = {
        "command": " ".join(sys.argv),
        "revision": measured_revision,
        "seed": arguments.seed,
        "control": arguments.control,
        "kills_planned": arguments.kills,
        "kills_landed": outcome.kills,
        "moments": moments,
        "uninterrupted": asdict(reference),
        "killed": asdict(outcome),
        "faults": found,
        "torch": str(torch.__version__),
        "python": platform.python_version(),
        "out": str(out),
    }
    print(json.dumps(result, indent=2))
    if arguments.json:
        arguments.json.write_text(json.dumps(result, indent=2) + "\n")
    expected_to_fail = arguments.control is not None
    if bool(found) != expected_to_fail:
        raise SystemExit(
            "FAIL: " + ("the control went unnoticed" if expected_to_fail else "; ".join(found))
        )
    print("PASS" + (f": the {arguments.control} control was detected" if found else ""))


if __name__ == "__main__":
    main()
