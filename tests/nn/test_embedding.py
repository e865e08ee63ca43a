"""Embeddings and one-hot codes for discrete symbols; padding ids start a Padded batch."""

import pytest
import torch

from convrec.nn import Embedding, OneHot, Padded


def test_padding_idx_gives_a_padded_batch_ending_at_the_last_real_token():
    tokens = torch.tensor([[3, 1, 2, 0], [4, 0, 0, 0], [2, 0, 5, 0]])
    output = Embedding(6, 3, padding_idx=0)(tokens)
    assert isinstance(output, Padded)
    assert output.lengths.tolist() == [3, 1, 3]
    assert output.data.shape == (3, 4, 3)
    assert not output.data[2, 1].any()  # an inner padding id still maps to zeros


def test_without_padding_idx_a_plain_tensor_stays_plain():
    embed = Embedding(6, 3)
    output = embed(torch.tensor([[1, 2]]))
    torch.testing.assert_close(output, embed.weight[[1, 2]].unsqueeze(0))


def test_the_padding_vector_is_zero_and_never_trained():
    embed = Embedding(5, 3, padding_idx=0)
    output = embed(torch.tensor([[1, 0], [2, 3]]))
    output.data.sum().backward()
    assert not embed.weight[0].any()
    assert not embed.weight.grad[0].any()
    assert embed.weight.grad[1].eq(1).all()


def test_a_padded_input_keeps_its_lengths():
    batch = Padded(torch.tensor([[1, 2, 3], [4, 4, 4]]), [3, 1])
    assert Embedding(5, 2)(batch).lengths.tolist() == [3, 1]


def test_one_hot_codes_dna_letters_and_padding_as_zeros():
    # ids: 0 = padding, 1..5 = A C G T N
    tokens = torch.tensor([[1, 4, 2, 0], [5, 3, 0, 0]])
    codes = OneHot(6, padding_idx=0)(tokens)
    assert codes.lengths.tolist() == [3, 2]
    assert codes.data[0, :3].argmax(-1).tolist() == [1, 4, 2]
    assert codes.data.sum(-1).tolist() == [[1, 1, 1, 0], [1, 1, 0, 0]]
    assert OneHot(3, dtype=torch.float64)(torch.tensor([[2]])).dtype == torch.float64


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: Embedding(5, 2)(torch.tensor([[1, 5]])),
            ValueError,
            r"expected ids in \[0, 5\), got ids from 1 to 5",
        ),
        (lambda: Embedding(5, 2)(torch.tensor([[-1, 2]])), ValueError, r"ids in \[0, 5\)"),
        (
            lambda: Embedding(5, 2)(torch.tensor([[1.0, 2.0]])),
            TypeError,
            r"integer ids.*Convert with .long\(\)",
        ),
        (
            lambda: Embedding(5, 2)(torch.tensor([1, 2])),
            ValueError,
            r"a \(B, T\) tensor of integer ids",
        ),
        (
            lambda: Embedding(5, 2, padding_idx=0)(torch.tensor([[1, 0], [0, 0]])),
            ValueError,
            r"at least one non-padding id per row, got row 1 all padding",
        ),
        (
            lambda: Embedding(5, 2, padding_idx=5),
            ValueError,
            r"`padding_idx`: expected an id in \[0, 5\)",
        ),
        (lambda: OneHot(0), ValueError, r"`num_classes`: expected a positive integer"),
        (
            lambda: OneHot(3, dtype=torch.int64),
            TypeError,
            r"`dtype`: expected a floating torch.dtype",
        ),
    ],
)
def test_bad_arguments_and_ids_are_refused(call, error, message):
    with pytest.raises(error, match=message):
        call()
