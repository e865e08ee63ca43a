"""Damaged files (SEC-5, reduced for CI): random truncations and bit flips of a checkpoint's
``state.pt`` and of ``model.safetensors``, sizes and lengths in their headers set to 2**63,
overlapping offsets, and huge or deeply nested JSON headers. Loading each raises only a documented
error (or reads back different numbers, where a flip hit tensor data), within 5 s, without
crashing the process (the loads run in a subprocess; safetensors and torch's zip reader are
native code) and within twice the largest file plus 100 MB of address space (``RLIMIT_AS``)."""

import json
import random
import shutil
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from convrec.models import create
from convrec.train.checkpoint import STATE, save_checkpoint
from convrec.train.model_files import save_model
from convrec.train.storage import commit
from tests.train.checkpoint_checks import make_loop

SEED, COUNT = 5, 30
CHECKPOINT_ERRORS = {"CorruptCheckpointError", "UnsafeCheckpointError"}
MODEL_ERRORS = {"InvalidValueError"}  # read_model's, naming the file
HUGE_HEADER = 30_000_000  # bytes of JSON; safetensors refuses headers over 100 MB
MEMORY_ALLOWANCE = 2 * HUGE_HEADER + 100_000_000  # the address space loads may add (Linux)
WORKER = """
import json, os, resource, sys, time
from pathlib import Path
from convrec.train.checkpoint import read_checkpoint
from convrec.train.model_files import read_model

loaders = {"checkpoint": read_checkpoint, "model": read_model}
cases, valid, allowance = json.loads(Path(sys.argv[1]).read_text())
for loader, path in valid.items():  # warm up, so that lazy set-ups count as the baseline
    loaders[loader](Path(path))
mapped = int(Path("/proc/self/statm").read_text().split()[0]) * os.sysconf("SC_PAGE_SIZE")
resource.setrlimit(resource.RLIMIT_AS, (mapped + allowance, resource.RLIM_INFINITY))
for case in cases:
    began = time.perf_counter()
    try:
        loaders[case["loader"]](Path(case["path"]))
        outcome = "loaded"
    except Exception as error:
        outcome = type(error).__name__
    print(json.dumps([case["path"], outcome, time.perf_counter() - began]), flush=True)
"""


def damaged(data: bytes, rng: random.Random, count: int) -> Iterator[tuple[str, bytes]]:
    """``count`` random truncations and ``count`` single-bit flips of ``data``, named."""
    for _ in range(count):
        cut = rng.randrange(len(data))
        yield f"cut-at-{cut}", data[:cut]
    for _ in range(count):
        bit = rng.randrange(8 * len(data))
        flipped = bytearray(data)
        flipped[bit // 8] ^= 1 << bit % 8
        yield f"bit-{bit}-flipped", bytes(flipped)


def patched(data: bytes, marker: bytes, offset: int, value: bytes) -> bytes:
    """``data`` with ``value`` written ``offset`` bytes after the first ``marker``."""
    start = data.index(marker) + offset
    return data[:start] + value + data[start + len(value) :]


def checkpoint_cases(root: Path, rng: random.Random) -> list[tuple[Path, set[str]]]:
    """Damaged ``state.pt`` files: under the original manifest (a checksum mismatch, always),
    and committed with a manifest of their own, so that the unpickler sees the damage."""
    valid = save_checkpoint(make_loop(), root / "valid" / "epoch-0001")
    data = (valid / STATE).read_bytes()
    cases = []
    for name, content in list(damaged(data, rng, 3)):
        folder = shutil.copytree(valid, root / f"manifest-{name}")
        (folder / STATE).write_bytes(content)
        cases.append((folder, {"CheckpointChecksumMismatch"}))
    headers = {  # zip sizes: central directory entry of data.pkl, zip64 end of central directory
        "data-pkl-size-4GiB": patched(data, b"PK\x01\x02", 20, struct.pack("<II", 2**32 - 1, 0)),
        "directory-size-2**63": patched(data, b"PK\x06\x06", 40, struct.pack("<Q", 2**63)),
        "entries-2**63": patched(data, b"PK\x06\x06", 32, struct.pack("<Q", 2**63)),
    }
    for name, content in headers.items():
        cases.append((commit(root / name, {STATE: content}), {"CorruptCheckpointError"}))
    for name, content in damaged(data, rng, COUNT):
        cases.append((commit(root / name, {STATE: content}), CHECKPOINT_ERRORS | {"loaded"}))
    return cases


def safetensors_with(valid: Path, name: str, header: bytes, body: bytes) -> Path:
    """A copy ``name`` of the model folder ``valid`` whose ``model.safetensors`` has ``header``
    as its JSON."""
    copy = shutil.copytree(valid, valid.parent / name)
    (copy / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + body)
    return copy


def model_cases(root: Path, rng: random.Random) -> list[tuple[Path, set[str]]]:
    """Damaged ``model.safetensors`` and ``model.json`` files, and hostile headers."""
    model = create("gru", input_shape=(None, 3), output_size=1, hidden_size=8, num_layers=2)
    valid = root / "valid"
    save_model(valid, model, {"task": "maxwell", "model": "gru"})
    data = (valid / "model.safetensors").read_bytes()
    length = struct.unpack("<Q", data[:8])[0]
    header, body = json.loads(data[8 : 8 + length]), data[8 + length :]
    cases = []
    for name, content in damaged((valid / "model.json").read_bytes(), rng, 3):
        folder = shutil.copytree(valid, root / f"json-{name}")
        (folder / "model.json").write_bytes(content)
        cases.append((folder, MODEL_ERRORS | {"loaded"}))  # a flip in a string, a cut newline
    for length_field in (2**63, 2**64 - 1, 99_999_999):  # the last: far beyond the file's end
        folder = shutil.copytree(valid, root / f"header-length-{length_field}")
        (folder / "model.safetensors").write_bytes(struct.pack("<Q", length_field) + data[8:])
        cases.append((folder, MODEL_ERRORS))
    first, second = "recurrent.cells.0.bias_ih", "recurrent.cells.0.bias_hh"  # the same size
    start, end = header[first]["data_offsets"]
    hostile = {
        "duplicated-offsets": {second: header[second] | {"data_offsets": [start, end]}},
        "overlapping-offsets": {second: header[second] | {"data_offsets": [start + 4, end + 4]}},
        "offsets-beyond-the-end": {second: header[second] | {"data_offsets": [0, 2**62]}},
        "shape-of-2**93-elements": {second: header[second] | {"shape": [2**31] * 3}},
    }
    for name, change in hostile.items():
        raw = json.dumps(header | change).encode()
        cases.append((safetensors_with(valid, name, raw, body), MODEL_ERRORS))
    nested = b"[" * 1_000_000 + b"]" * 1_000_000  # 2 MB of nesting: no recursion overflow
    cases.append((safetensors_with(valid, "deeply-nested", nested, body), MODEL_ERRORS))
    huge = json.dumps(header | {"__metadata__": {"padding": "x" * HUGE_HEADER}}).encode()
    outcomes = MODEL_ERRORS | {"loaded"}
    cases.append((safetensors_with(valid, "huge-header", huge, body), outcomes))
    for name, content in damaged(data, rng, COUNT):
        folder = shutil.copytree(valid, root / name)
        (folder / "model.safetensors").write_bytes(content)
        cases.append((folder, MODEL_ERRORS | {"loaded"}))
    return cases


@pytest.mark.timeout(120)
def test_damaged_files_raise_only_documented_errors_without_hanging_or_crashing(tmp_path):
    rng = random.Random(SEED)
    cases = [
        (str(path), (loader, outcomes))
        for loader, make_cases in (("checkpoint", checkpoint_cases), ("model", model_cases))
        for path, outcomes in make_cases(tmp_path / loader, rng)
    ]
    expected = dict(cases)
    assert len(expected) == len(cases) > 4 * COUNT  # no case replaced another
    listing = tmp_path / "cases.json"
    valid = {"checkpoint": str(tmp_path / "checkpoint" / "valid" / "epoch-0001")}
    valid["model"] = str(tmp_path / "model" / "valid")
    runs = [{"path": path, "loader": loader} for path, (loader, _) in expected.items()]
    listing.write_text(json.dumps([runs, valid, MEMORY_ALLOWANCE]))
    worker = subprocess.run(
        [sys.executable, "-c", WORKER, str(listing)], capture_output=True, text=True, timeout=90
    )
    results = [json.loads(line) for line in worker.stdout.splitlines()]
    reported = [path for path, _, _ in results]
    crashed = next((path for path in expected if path not in reported), None)
    assert worker.returncode == 0, f"the loader died (status {worker.returncode}) on {crashed}"
    assert reported == list(expected), worker.stderr[-2000:]
    for path, outcome, seconds in results:
        assert outcome in expected[path][1], f"{path}: {outcome}"  # MemoryError included
        assert seconds < 5, f"{path}: {seconds:.1f} s"
    reached = {
        "loaded",
        "CorruptCheckpointError",
        "CheckpointChecksumMismatch",
        "InvalidValueError",
    }
    assert reached <= {outcome for _, outcome, _ in results}  # every layer of checks was hit
