"""Test configuration shared by the test suite and the docstring examples."""

import os

import pytest
import torch
from hypothesis import settings
from torch import nn

import convrec.nn

# Triton fixes at import whether its kernels run compiled or interpreted, so the kernels module is
# imported by the tests that run it under TRITON_INTERPRET=1, not by doctest collection.
collect_ignore = ["convrec/nn/triton_kernels.py"]

settings.register_profile(
    "convrec", derandomize=True, deadline=None, max_examples=40, print_blob=True
)
settings.load_profile("convrec")

if os.environ.get("PYTEST_XDIST_WORKER"):
    # One thread per worker process, and per process a test starts: the workers share the
    # cores (pytest -n auto).
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _doctest_names(doctest_namespace: dict) -> None:
    doctest_namespace.update({"torch": torch, "nn": nn})
    doctest_namespace.update({name: getattr(convrec.nn, name) for name in convrec.nn.__all__})
