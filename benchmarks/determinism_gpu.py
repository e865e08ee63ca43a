"""Does deterministic mode repeat training bit for bit on this device? [DET-2, RES-5]

DET-2: a GRU, an LSTM (sequence to sequence, ``(B, T, 6) -> (B, T, 1)``, MSE) and LeNet-5
(``(B, 1, 28, 28) -> (B, 10)``, cross-entropy) are each trained ``--runs`` times for ``--steps``
Adam steps on tiny seeded random data, in deterministic mode (:func:`make_deterministic`); the
SHA-256 of the final weights must agree across runs. LeNet-5 is then trained once more with
``cudnn.benchmark`` on and deterministic mode off, and the script reports whether its weights
differ from the deterministic ones (they may: cuDNN then picks its convolution algorithms by
timing them).

RES-5: a tiny maxwell run (``convrec.train``, ``deterministic=True``) trained 2 epochs and resumed
to 3 against 3 epochs straight; the script reports whether ``model.safetensors`` holds the same
tensors bit for bit, and otherwise the largest relative difference.

It prints the seed, the revision and the torch, CUDA and cuDNN versions with the tables, and
exits with 1 if a deterministic run or the resume did not repeat.

Usage:
    python benchmarks/determinism_gpu.py --device cuda [--runs 3] [--steps 100] [--seed 0]
        [--json result.json]

On a CPU (``--device cpu``) it checks itself; the CPU result is covered in CI by
``tests/train/test_run.py``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import Tensor, nn

import convrec
from convrec.models import create
from convrec.train.determinism import make_deterministic

BATCH, LENGTH = 8, 20  # the tiny data: 8 samples a step, sequences of 20 steps
MODELS = {
    # name: (model options, input shape, output size, input kind)
    "gru": ({"hidden_size": 16}, (None, 6), 1, "sequence"),
    "lstm": ({"hidden_size": 16}, (None, 6), 1, "sequence"),
    "lenet5": ({}, (1, 28, 28), 10, "image"),
}
MAXWELL = {
    "model": "gru",
    "batch_size": 8,
    "schedule": "constant",
    "model_options": {"hidden_size": 8, "num_layers": 2, "dropout": 0.2},
    "task_options": {"train_size": 24, "validation_size": 8, "test_size": 4, "segments": 2},
}


def weights_hash(model: nn.Module) -> str:
    """The first 16 hex digits of the SHA-256 of every parameter and buffer, in order."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def train_once(name: str, steps: int, seed: int, device: torch.device) -> str:
    """Train model ``name`` for ``steps`` Adam steps on seeded random data; its weights' hash."""
    options, input_shape, output_size, kind = MODELS[name]
    torch.manual_seed(seed)
    model = create(name, input_shape, output_size, kind, **options).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    data = torch.Generator().manual_seed(seed)  # the data, drawn on the CPU, the same everywhere
    shape = (BATCH, LENGTH, input_shape[-1]) if kind == "sequence" else (BATCH, *input_shape)
    for _ in range(steps):
        inputs = torch.randn(shape, generator=data).to(device)  # (B, T, 6) or (B, 1, 28, 28)
        output = model(inputs)  # (B, T, 1) or (B, 10)
        if kind == "sequence":
            target = inputs[..., :1].cumsum(dim=1) / LENGTH  # (B, T, 1): a running sum to learn
            loss = F.mse_loss(output, target)
        else:
            labels = torch.randint(output_size, (BATCH,), generator=data).to(device)  # (B,)
            loss = F.cross_entropy(output, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return weights_hash(model)


def compare_resume(device: str, seed: int, out: Path) -> dict[str, object]:
    """RES-5: 2 epochs resumed to 3 against 3 straight; bitwise equality or the largest relative
    difference of any weight."""
    common = {"device": device, "deterministic": True, "seed": seed, "progress": False}
    whole = convrec.train("maxwell", epochs=3, out=str(out / "whole"), **common, **MAXWELL)
    first = convrec.train("maxwell", epochs=2, out=str(out / "parts"), **common, **MAXWELL)
    resumed = convrec.train("maxwell", resume=first.directory, epochs=3, progress=False)
    expected = load_file(str(whole.directory / "model.safetensors"))
    actual = load_file(str(resumed.directory / "model.safetensors"))
    equal = expected.keys() == actual.keys() and all(
        torch.equal(expected[key], actual[key]) for key in expected
    )
    largest = max(relative_difference(expected[key], actual[key]) for key in expected)
    return {"bitwise_equal": equal, "max_relative_difference": largest}


def relative_difference(expected: Tensor, actual: Tensor) -> float:
    """``max |a - e| / max |e|`` (0 for two zero tensors)."""
    scale = expected.abs().max().item()
    return (actual - expected).abs().max().item() / scale if scale else 0.0


def versions(device: torch.device) -> dict[str, object]:
    """torch, CUDA, cuDNN and the device, for the result's header."""
    cuda = device.type == "cuda"
    return {
        "torch": str(torch.__version__),
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "device": torch.cuda.get_device_name(device) if cuda else "cpu",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="folder for the maxwell runs (default: temp)")
    parser.add_argument("--json", type=Path, help="also write the result here")
    arguments = parser.parse_args()
    from provenance import revision

    measured_revision = revision()
    make_deterministic(True)  # before CUDA initialises, so that cuBLAS takes its workspace
    device = torch.device(arguments.device)
    runs = {
        name: [
            train_once(name, arguments.steps, arguments.seed, device) for _ in range(arguments.runs)
        ]
        for name in MODELS
    }
    out = arguments.out or Path(tempfile.mkdtemp(prefix="determinism-"))
    resume = compare_resume(arguments.device, arguments.seed, out)
    make_deterministic(False)
    torch.backends.cudnn.benchmark = True
    benchmarked = train_once("lenet5", arguments.steps, arguments.seed, device)
    result = {
        "command": " ".join(sys.argv),
        "revision": measured_revision,
        "seed": arguments.seed,
        "steps": arguments.steps,
        **versions(device),
        "deterministic_runs": {
            name: {"hashes": hashes, "agree": len(set(hashes)) == 1}
            for name, hashes in runs.items()
        },
        "lenet5_benchmark_nondeterministic": {
            "hash": benchmarked,
            "differs_from_deterministic": benchmarked != runs["lenet5"][0],
        },
        "resume": resume,
    }
    print_table(result)
    if arguments.json:
        arguments.json.write_text(json.dumps(result, indent=2) + "\n")
    repeated = all(entry["agree"] for entry in result["deterministic_runs"].values())
    return 0 if repeated and resume["bitwise_equal"] else 1


def print_table(result: dict) -> None:
    header = ("seed", "revision", "torch", "cuda", "cudnn", "device")
    print("  ".join(f"{key}={result[key]}" for key in header))
    print(f"DET-2: {result['steps']} steps per run, deterministic mode")
    print(f"{'model':8} {'agree':6} weight hashes per run")
    for name, entry in result["deterministic_runs"].items():
        print(f"{name:8} {entry['agree']!s:6} {' '.join(entry['hashes'])}")
    benchmarked = result["lenet5_benchmark_nondeterministic"]
    print(
        f"lenet5 with cudnn.benchmark on, deterministic off: {benchmarked['hash']}, "
        f"differs: {benchmarked['differs_from_deterministic']} (allowed)"
    )
    resume = result["resume"]
    print(
        f"RES-5: 2 epochs + resume to 3 vs 3 straight: bitwise equal {resume['bitwise_equal']}, "
        f"max relative difference {resume['max_relative_difference']:.3g}"
    )


if __name__ == "__main__":
    sys.exit(main())
