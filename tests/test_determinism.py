"""Determinism on CPU (DET-1, DET-3): the same seed gives bitwise the same weights, a different
seed different ones, and ``deterministic=True`` makes a nondeterministic operation an error and
sets cuBLAS's workspace (tests/train/test_determinism.py checks each switch)."""

from __future__ import annotations

import hashlib
import os

import pytest
import torch

from convrec.models import create
from convrec.tasks.maxwell import Maxwell
from convrec.train import train
from convrec.train.determinism import CUBLAS_VARIABLE

STEPS = 200
MODELS = {  # name: (input_shape, options); the CNN has batch norm and dropout
    "gru": ((None, 3), {"hidden_size": 8, "num_layers": 1}),
    "lstm": ((None, 3), {"hidden_size": 8, "num_layers": 1}),
    "vgg": ((1, 8, 8), {"widths": (4, 8), "convs_per_stage": 1}),
}
TINY_MAXWELL = {
    "task_options": {
        "train_size": 16,
        "validation_size": 4,
        "test_size": 4,
        "segments": 2,
        "steps_per_segment": 5,
    },
    "model_options": {"hidden_size": 4},
    "epochs": 1,
    "batch_size": 8,
    "progress": False,
}


def weights_hash(model: torch.nn.Module) -> str:
    """SHA-256 of every parameter and buffer, in state-dict order."""
    digest = hashlib.sha256()
    for name, value in model.state_dict().items():
        digest.update(name.encode())
        digest.update(value.detach().contiguous().numpy().tobytes())
    return digest.hexdigest()


def trained_hash(name: str, seed: int) -> str:
    """Seed, build the model, train it ``STEPS`` steps of AdamW on random batches; hash it."""
    torch.manual_seed(seed)
    input_shape, options = MODELS[name]
    model = create(name, input_shape=input_shape, output_size=1, **options)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    shape = tuple(12 if size is None else size for size in input_shape)
    for _ in range(STEPS):
        x = torch.randn(8, *shape)  # (B, T, F) or (B, C, H, W)
        prediction = model(x).flatten(1).mean(dim=1)  # (B,)
        loss = (prediction - x.flatten(1).mean(dim=1)).square().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return weights_hash(model)


@pytest.mark.parametrize("name", MODELS)
def test_the_same_seed_gives_bitwise_the_same_weights_and_another_seed_other_ones(name):
    first, again, other = trained_hash(name, 0), trained_hash(name, 0), trained_hash(name, 1)
    assert first == again
    assert first != other


def test_train_with_the_same_seed_writes_the_same_model_and_with_another_seed_another(tmp_path):
    def model_hash(seed: int) -> str:
        run = train("maxwell", model="gru", seed=seed, out=str(tmp_path), **TINY_MAXWELL)
        return hashlib.sha256((run.directory / "model.safetensors").read_bytes()).hexdigest()

    first = model_hash(0)
    assert model_hash(0) == first
    assert model_hash(1) != first


@pytest.fixture
def restore_deterministic_mode(monkeypatch):
    """Put ``torch.use_deterministic_algorithms``, cuDNN's switches and
    ``CUBLAS_WORKSPACE_CONFIG`` back as they were after the test."""
    enabled = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    monkeypatch.setenv(CUBLAS_VARIABLE, "")  # recorded, so the teardown restores the original
    monkeypatch.delenv(CUBLAS_VARIABLE)
    yield
    torch.use_deterministic_algorithms(enabled, warn_only=warn_only)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = cudnn


def nondeterministic_operation() -> torch.Tensor:
    """``put_`` without accumulation has no deterministic implementation, on CPU too."""
    return torch.zeros(3).put_(torch.tensor([0, 0]), torch.tensor([1.0, 2.0]))


def test_a_nondeterministic_operation_runs_outside_deterministic_mode(restore_deterministic_mode):
    torch.use_deterministic_algorithms(False)
    assert nondeterministic_operation()[0] in (1.0, 2.0)


def test_deterministic_training_raises_on_a_nondeterministic_operation(
    tmp_path, monkeypatch, restore_deterministic_mode
):
    torch.use_deterministic_algorithms(False)
    original = Maxwell.loss

    def loss(self, prediction, target):
        nondeterministic_operation()
        return original(self, prediction, target)

    monkeypatch.setattr(Maxwell, "loss", loss)
    with pytest.raises(RuntimeError, match=r"put_ does not have a deterministic implementation"):
        train("maxwell", deterministic=True, out=str(tmp_path), **TINY_MAXWELL)
    assert torch.are_deterministic_algorithms_enabled()
    assert os.environ[CUBLAS_VARIABLE] == ":4096:8" and not torch.backends.cudnn.benchmark
