"""Fuzzing of everything convrec reads from a user or a run directory.

Targets: every data reader (IDX, IDX gzip, UCR/UEA ``.ts``, FASTA, FASTA gzip, sequence CSV,
``.npz``, WAV), a run's ``model.json`` read by ``convrec.load`` (next to its real
``model.safetensors``), and a ``config.yaml`` read and validated as a run would
(``read_config_file`` then ``make_config``). Each case starts from a valid file and damages it
at random: bit flips, truncation, bytes inserted, deleted or repeated, splices of two places,
random bytes; for JSON and YAML also structural changes (a key dropped, a value replaced by one
of another type, a huge number, deep nesting, aliases).

A case passes when the target returns or raises one of convrec's documented user errors
(``convrec.errors.UserError``: ``FormatError``, ``InvalidValueError``, ...) within
``--seconds``; anything else (``KeyError``, ``RecursionError``, ``MemoryError``, a hang) is a
finding. The table gives, per target, the cases, how many returned, how many were refused with a
user error, the findings and the slowest case.

Usage:
    python benchmarks/fuzz_inputs.py [--cases 1250] [--seed 0] [--seconds 5]
"""

from __future__ import annotations

import argparse
import copy
import gzip
import io
import json
import os
import platform
import random
import shutil
import struct
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
from provenance import revision

import convrec
from convrec.data.readers import (
    read_fasta,
    read_idx,
    read_sequences_csv,
    read_sequences_npz,
    read_ts,
    read_wav,
)
from convrec.errors import UserError
from convrec.train.config import make_config, read_config_file


def wav() -> bytes:
    audio = (np.sin(np.linspace(0, 20, 64)) * 20000).astype("<i2").tobytes()
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(audio)) + audio
    return b"RIFF" + struct.pack("<I", len(body)) + body


def npz() -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, first=np.arange(12.0).reshape(6, 2), second=np.arange(5.0))
    return buffer.getvalue()


IDX = struct.pack(">HBB2I", 0, 0x0B, 2, 3, 2) + np.arange(6, dtype=">i2").tobytes()
TS = (
    b"# tiny\n@problemName Tiny\n@missing true\n@dimensions 2\n@equalLength false\n"
    b"@classLabel true up down\n@data\n1,2,3:4,5,?:up\n0.5,1e-3:7,8:down\n"
)
FASTA = b">one\nACGTN\nAC\n>two\nRYKM\n"
CSV = b"sequence_id,x,y\na,1,2\na,3,4\nb,5.5,-1e3\n"
READERS: dict[str, tuple[Callable[[bytes], object], bytes]] = {
    "idx": (read_idx, IDX),
    "idx.gz": (read_idx, gzip.compress(IDX, mtime=0)),
    "ts": (read_ts, TS),
    "fasta": (read_fasta, FASTA),
    "fasta.gz": (read_fasta, gzip.compress(FASTA, mtime=0)),
    "csv": (lambda data: read_sequences_csv(data, ["x", "y"]), CSV),
    "npz": (read_sequences_npz, npz()),
    "wav": (read_wav, wav()),
}


def damaged_bytes(data: bytes, rng: random.Random) -> bytes:
    """One random damage of ``data``."""
    data = bytearray(data)
    kind = rng.randrange(7)
    if kind == 0 and data:  # bit flips
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif kind == 1:  # truncation
        del data[rng.randrange(len(data) + 1) :]
    elif kind == 2:  # bytes inserted
        at = rng.randrange(len(data) + 1)
        data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    elif kind == 3 and data:  # bytes deleted
        at = rng.randrange(len(data))
        del data[at : at + rng.randint(1, 16)]
    elif kind == 4 and data:  # a piece repeated many times
        at = rng.randrange(len(data))
        data[at:at] = data[at : at + rng.randint(1, 8)] * rng.randint(2, 5000)
    elif kind == 5 and len(data) > 2:  # two places spliced
        first, second = sorted(rng.sample(range(len(data)), 2))
        data = data[:first] + data[second:] + data[first:second]
    else:  # random bytes
        data = bytearray(rng.randbytes(rng.randint(0, 256)))
    return bytes(data)


def damaged_value(value: object, rng: random.Random, depth: int = 0) -> object:
    """``value`` (parsed JSON or YAML) with one random structural change somewhere in it."""
    replacements = [
        None,
        True,
        -1,
        0,
        10**9,
        1e308,
        float("nan"),
        "x" * rng.randint(0, 300),
        [],
        {},
        [[[[]]]],
        {"a": {"b": {"c": 1}}},
    ]
    if isinstance(value, dict) and value and depth < 6 and rng.random() < 0.7:
        key = rng.choice(list(value))
        changed = dict(value)
        action = rng.randrange(4)
        if action == 0:
            del changed[key]
        elif action == 1:
            changed[key] = rng.choice(replacements)
        elif action == 2:
            changed[f"{key}_extra"] = rng.choice(replacements)
        else:
            changed[key] = damaged_value(value[key], rng, depth + 1)
        return changed
    if isinstance(value, list) and value and depth < 6 and rng.random() < 0.7:
        changed = list(value)
        index = rng.randrange(len(changed))
        changed[index] = damaged_value(changed[index], rng, depth + 1)
        return changed
    return rng.choice(replacements)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


class Outcomes:
    """Counts per target: returned, refused (by error type), findings, slowest case."""

    def __init__(self) -> None:
        self.counts: dict[str, Counter] = {}
        self.findings: dict[str, list[str]] = {}
        self.slowest: dict[str, float] = {}

    def run(self, target: str, call: Callable[[], object], limit: float) -> None:
        started = time.perf_counter()
        try:
            call()
            outcome = "returned"
        except UserError as error:
            outcome = f"refused ({type(error).__name__})"
        except Exception as error:  # a finding: reported, not raised
            outcome = "finding"
            detail = f"{type(error).__name__}: {error}"[:200]
            self.findings.setdefault(target, []).append(detail)
        seconds = time.perf_counter() - started
        if seconds > limit:
            outcome = "finding"
            self.findings.setdefault(target, []).append(f"took {seconds:.1f} s")
        self.counts.setdefault(target, Counter())[outcome] += 1
        self.slowest[target] = max(self.slowest.get(target, 0.0), seconds)


def fuzz_readers(outcomes: Outcomes, cases: int, rng: random.Random, limit: float) -> None:
    for name, (reader, valid) in READERS.items():
        for _ in range(cases):
            data = damaged_bytes(valid, rng)
            outcomes.run(name, lambda data=data, reader=reader: reader(data), limit)


def fuzz_model_json(
    outcomes: Outcomes, run: Path, cases: int, rng: random.Random, limit: float
) -> None:
    description = json.loads((run / "model.json").read_text())
    text = (run / "model.json").read_bytes()
    with tempfile.TemporaryDirectory() as scratch:
        copy_ = Path(shutil.copytree(run, Path(scratch) / "run"))
        for index in range(cases):
            if index % 3 == 0:
                content = damaged_bytes(text, rng)
            elif index % 3 == 1:
                content = json.dumps(damaged_value(copy.deepcopy(description), rng)).encode()
            else:
                content = nested(rng.choice([100, 10_000, 200_000])).encode()
            (copy_ / "model.json").write_bytes(content)
            outcomes.run("model.json", lambda: convrec.load(copy_), limit)


def fuzz_config_yaml(
    outcomes: Outcomes, run: Path, cases: int, rng: random.Random, limit: float
) -> None:
    import yaml

    text = (run / "config.yaml").read_bytes()
    values = yaml.safe_load(text)
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(9)
    )
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "config.yaml"
        for index in range(cases):
            if index % 4 == 0:
                content = damaged_bytes(text, rng)
            elif index % 4 == 1:
                changed = damaged_value(copy.deepcopy(values), rng)
                content = yaml.safe_dump(changed, allow_unicode=True).encode()
            elif index % 4 == 2:
                content = rng.choice([bomb, "a: !!python/object/apply:os.system [true]\n"]).encode()
            else:
                content = (f"epochs: {nested(rng.choice([100, 5_000, 50_000]))}\n").encode()
            path.write_bytes(content)
            outcomes.run("config.yaml", lambda: make_config(**read_config_file(path)), limit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1250, help="cases per target")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=5.0, help="slowest allowed case")
    arguments = parser.parse_args()
    started = revision()
    rng = random.Random(arguments.seed)
    outcomes = Outcomes()
    fuzz_readers(outcomes, arguments.cases, rng, arguments.seconds)
    with tempfile.TemporaryDirectory() as runs:
        run = convrec.train(
            "maxwell",
            epochs=1,
            batch_size=4,
            progress=False,
            out=runs,
            model_options={"hidden_size": 4},
            task_options={"train_size": 8, "validation_size": 4, "test_size": 2, "segments": 2},
        ).directory
        fuzz_model_json(outcomes, run, arguments.cases, rng, arguments.seconds)
        fuzz_config_yaml(outcomes, run, arguments.cases, rng, arguments.seconds)
    total = sum(sum(counter.values()) for counter in outcomes.counts.values())
    print(
        f"{date.today()}, {platform.machine()} {os.cpu_count()} cores, revision {started}, "
        f"seed {arguments.seed}, {total} cases"
    )
    print("| target | cases | returned | refused with a user error | findings | slowest s |")
    print("|---|---|---|---|---|---|")
    for target, counter in outcomes.counts.items():
        refused = {key: value for key, value in counter.items() if key.startswith("refused")}
        kinds = ", ".join(
            f"{key[9:-1]} {value}" for key, value in sorted(refused.items(), key=lambda x: -x[1])
        )
        print(
            f"| {target} | {sum(counter.values())} | {counter['returned']} | "
            f"{sum(refused.values())} ({kinds}) | {counter['finding']} | "
            f"{outcomes.slowest[target]:.2f} |"
        )
    for target, found in outcomes.findings.items():
        for detail, count in Counter(found).most_common(5):
            print(f"finding in {target} ({count}x): {detail}")


if __name__ == "__main__":
    main()
