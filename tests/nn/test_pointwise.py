"""The position-wise wrapper that lets torch.nn modules carry a Padded batch."""

import pytest
import torch
from torch import nn

from convrec.nn import Padded, Pointwise


def test_applies_the_module_and_keeps_lengths():
    linear = nn.Linear(3, 2)
    batch = Padded(torch.randn(2, 4, 3), [4, 1])
    output = Pointwise(linear)(batch)
    assert output.lengths.tolist() == [4, 1]
    torch.testing.assert_close(output.data[0], linear(batch.data[0]))
    assert not output.data[1, 1:].any()  # Linear's bias must not leak into the padding


def test_plain_tensors_go_straight_through():
    x = torch.randn(2, 3)
    torch.testing.assert_close(Pointwise(nn.ReLU())(x), x.relu())


def test_refuses_what_is_not_a_module():
    with pytest.raises(TypeError, match=r"`module`: expected a torch\.nn\.Module"):
        Pointwise(torch.relu)
