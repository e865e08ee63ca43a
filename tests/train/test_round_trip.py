"""What convrec saves reads back bit for bit (SEC-4, PBT-1): the shared model (safetensors and
JSON) and a checkpoint's ``state.pt``, for float32, float64, bfloat16 and int64 tensors of any
shape, 0-size and non-contiguous ones included, under unicode names, with unicode metadata."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from convrec.train.checkpoint import read_checkpoint, save_checkpoint
from convrec.train.model_files import read_model, save_model
from tests.train.checkpoint_checks import make_loop

DTYPES = (torch.float32, torch.float64, torch.bfloat16, torch.int64)
ROUND_TRIPS = settings(max_examples=15, deadline=None)


class Tensors(nn.Module):
    """A module whose state is exactly the given tensors, under any names."""

    def __init__(self, tensors: dict[str, torch.Tensor]) -> None:
        super().__init__()
        self.tensors = tensors

    def state_dict(self, *args, **kwargs) -> dict[str, torch.Tensor]:
        return dict(self.tensors)


@st.composite
def tensors(draw, finite: bool) -> torch.Tensor:
    """A tensor of one of :data:`DTYPES`, 0 to 3 axes of 0 to 4 each, maybe a strided view.

    Its values are random bits (NaN, infinities and subnormals included) unless ``finite``.
    """
    dtype = draw(st.sampled_from(DTYPES))
    shape = tuple(draw(st.lists(st.integers(0, 4), max_size=3)))
    strided = draw(st.booleans())
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**32 - 1)))
    full = (*shape, 2) if strided else shape
    if finite and dtype.is_floating_point:
        values = (torch.randn(full, generator=generator, dtype=torch.float64) * 1e3).to(dtype)
    else:
        bits = {torch.float64: torch.int64, torch.bfloat16: torch.int16}.get(dtype, torch.int32)
        width = torch.iinfo(bits)
        values = torch.randint(width.min, width.max, full, generator=generator, dtype=torch.int64)
        values = values.to(bits).view(dtype) if dtype.is_floating_point else values
    return values[..., 0] if strided else values


NAMES = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=12)


def state_dicts(finite: bool):
    return st.dictionaries(NAMES, tensors(finite), max_size=5)


def assert_bitwise_equal(actual: dict, expected: dict) -> None:
    """The same names, dtypes, shapes and bytes (NaN payloads and the sign of 0 included)."""
    assert actual.keys() == expected.keys()
    for name, value in expected.items():
        found = actual[name]
        assert (found.dtype, found.shape) == (value.dtype, value.shape), name
        assert torch.equal(*(bytes_of(tensor) for tensor in (found, value))), name


def bytes_of(tensor: torch.Tensor) -> torch.Tensor:
    """``(N * itemsize,)`` uint8: the values of ``tensor`` in row-major order, as bytes."""
    flat = tensor.reshape(-1).clone(memory_format=torch.contiguous_format)
    return flat.view(torch.uint8)


@ROUND_TRIPS
@given(
    state=state_dicts(finite=False),
    description=st.dictionaries(NAMES, st.recursive(NAMES | st.integers(), st.lists)),
)
def test_the_shared_model_reads_back_bit_for_bit(tmp_path_factory, state, description):
    directory = tmp_path_factory.mktemp("model")
    save_model(directory, Tensors(state), description)
    weights, described = read_model(directory)
    assert_bitwise_equal(weights, state)
    assert described == description


@ROUND_TRIPS
@given(state=state_dicts(finite=True))
def test_a_checkpoint_reads_back_bit_for_bit_with_its_strides(tmp_path_factory, state):
    loop = make_loop()
    loop.model = Tensors(state)
    path = save_checkpoint(loop, tmp_path_factory.mktemp("checkpoints") / "epoch-0001")
    saved = read_checkpoint(path)["model"]
    assert_bitwise_equal(saved, state)
    assert all(saved[name].stride() == value.stride() for name, value in state.items())
