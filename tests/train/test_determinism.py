"""Deterministic mode (DET-3): every switch is set, cuBLAS's workspace before CUDA initialises
(and a clear error once it is too late), and a warning for cuDNN's recurrent dropout on a GPU;
the global state is put back after each test."""

import os

import pytest
import torch
from torch import nn

from convrec.models import RecurrentNet
from convrec.train import determinism
from convrec.train.determinism import (
    CUBLAS_VARIABLE,
    make_deterministic,
    warn_nondeterministic_dropout,
)


@pytest.fixture(autouse=True)
def global_state(monkeypatch):
    """Start with every switch off and no cuBLAS setting; put all back as it was afterwards."""
    saved = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
    )
    monkeypatch.setenv(CUBLAS_VARIABLE, "")  # recorded, so the teardown restores the original
    monkeypatch.delenv(CUBLAS_VARIABLE)
    torch.use_deterministic_algorithms(False)
    torch.backends.cudnn.deterministic = False
    torch.backends.cudnn.benchmark = True
    yield
    torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved[2:]


def test_deterministic_mode_sets_every_switch_and_the_cublas_workspace_before_cuda():
    make_deterministic(True)
    assert torch.are_deterministic_algorithms_enabled()
    assert not torch.is_deterministic_algorithms_warn_only_enabled()
    assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    assert os.environ[CUBLAS_VARIABLE] == ":4096:8"
    make_deterministic(False)
    assert not torch.are_deterministic_algorithms_enabled()
    assert not torch.backends.cudnn.deterministic


def test_deterministic_mode_after_cuda_initialised_without_the_workspace_is_refused(monkeypatch):
    monkeypatch.setattr(determinism.torch.cuda, "is_initialized", lambda: True)
    with pytest.raises(
        ValueError,
        match=r"`deterministic`: expected CUBLAS_WORKSPACE_CONFIG set to :4096:8 before CUDA "
        r"initialises, got True with CUDA already initialised and CUBLAS_WORKSPACE_CONFIG=None\. "
        r"Start Python with CUBLAS_WORKSPACE_CONFIG=:4096:8",
    ):
        make_deterministic(True)
    assert not torch.are_deterministic_algorithms_enabled()  # nothing half done
    monkeypatch.setenv(CUBLAS_VARIABLE, ":16:8")  # set before CUDA, as cuBLAS allows
    make_deterministic(True)
    assert torch.are_deterministic_algorithms_enabled()
    assert os.environ[CUBLAS_VARIABLE] == ":16:8"
    make_deterministic(False)  # nothing to refuse when not deterministic


class TorchStack(nn.Module):
    def __init__(self, dropout: float) -> None:
        super().__init__()
        self.encoder = nn.LSTM(3, 4, num_layers=2, dropout=dropout)


def test_cudnn_recurrent_dropout_on_a_gpu_is_named_in_a_warning():
    with pytest.warns(RuntimeWarning, match=r"encoder applies dropout between recurrent layers"):
        warn_nondeterministic_dropout(TorchStack(0.5), torch.device("cuda", 0))
    convrec_stack = RecurrentNet((None, 3), 1, cell="lstm", num_layers=2, dropout=0.5)
    for model, device in [
        (TorchStack(0.5), torch.device("cpu")),
        (TorchStack(0.0), torch.device("cuda", 0)),
        (convrec_stack, torch.device("cuda", 0)),  # its dropout runs outside cuDNN
    ]:
        warn_nondeterministic_dropout(model, device)  # warnings are errors in this suite
