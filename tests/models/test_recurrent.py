"""RecurrentNet: padding invariance for every read-out and direction, token input, the tagger,
and its error messages."""

import itertools

import pytest
import torch

from convrec.models import create
from convrec.models.recurrent import RecurrentNet
from convrec.nn import Padded

LENGTHS = torch.tensor([6, 1, 4, 3, 6])


def random_batch(features: int = 3) -> Padded:
    """Sequences of random lengths, padded with garbage that must never be read."""
    data = torch.randn(len(LENGTHS), 9, features)
    padding = ~Padded(data, LENGTHS).broadcast_mask()
    return Padded(data.masked_fill(padding, 1e3), LENGTHS)


@pytest.mark.parametrize(
    ("cell", "pooling", "bidirectional"),
    list(itertools.product(["rnn", "lstm", "gru"], ["last", "mean", "max"], [False, True])),
)
def test_many_to_one_ignores_padding_for_every_pooling_and_direction(cell, pooling, bidirectional):
    net = RecurrentNet(
        (None, 3),
        2,
        cell=cell,
        hidden_size=5,
        bidirectional=bidirectional,
        return_sequences=False,
        pooling=pooling,
    )
    batch = random_batch()
    output = net(batch)
    assert output.shape == (5, 2)
    for item, sequence in enumerate(batch.unpad()):
        torch.testing.assert_close(output[item], net(sequence.unsqueeze(0))[0])


@pytest.mark.parametrize("bidirectional", [False, True])
def test_the_tagger_returns_a_padded_batch_equal_to_each_sequence_alone(bidirectional):
    net = RecurrentNet((None, 3), 4, cell="lstm", hidden_size=5, bidirectional=bidirectional)
    batch = random_batch()
    output = net(batch)
    assert isinstance(output, Padded)
    assert output.data.shape == (5, 9, 4)
    assert torch.equal(output.lengths, LENGTHS)
    assert not output.data[~batch.mask()].any()
    for tags, sequence in zip(output.unpad(), batch.unpad(), strict=True):
        torch.testing.assert_close(tags, net(sequence.unsqueeze(0))[0])


@pytest.mark.parametrize(("pooling", "reduce"), [("mean", torch.mean), ("max", torch.amax)])
def test_mean_and_max_pool_the_valid_outputs_of_the_sequence(pooling, reduce):
    net = RecurrentNet((None, 3), 1, hidden_size=4, return_sequences=False, pooling=pooling)
    batch = random_batch()
    outputs = net.recurrent(batch).unpad()
    pooled = torch.stack([reduce(output, dim=0) for output in outputs])
    torch.testing.assert_close(net(batch), net.head(pooled))


@pytest.mark.parametrize("return_sequences", [False, True])
def test_token_ids_padded_with_zero_give_the_outputs_of_the_unpadded_rows(return_sequences):
    net = create(
        "gru",
        input_shape=(None,),
        output_size=3,
        input_kind="tokens",
        vocab_size=12,
        embedding_dim=6,
        hidden_size=5,
        bidirectional=True,
        return_sequences=return_sequences,
        pooling="last" if return_sequences else "mean",
    )
    ids = torch.tensor([[4, 7, 2, 9, 0, 0], [3, 0, 0, 0, 0, 0], [5, 1, 11, 8, 6, 2]])
    output = net(ids)
    if return_sequences:
        assert isinstance(output, Padded)
        assert output.lengths.tolist() == [4, 1, 6]
        rows = output.unpad()
    else:
        rows = list(output)
    for row, expected_length, item in zip(ids, [4, 1, 6], rows, strict=True):
        alone = net(row[:expected_length].unsqueeze(0))
        torch.testing.assert_close(item, alone.data[0] if return_sequences else alone[0])
    torch.testing.assert_close(net(Padded(ids, [4, 1, 6])).data, output.data)


def test_a_feature_model_keeps_its_modules_and_state_dict_keys():
    net = create("gru", input_shape=(None, 3), output_size=1, hidden_size=4)
    assert net.embedding is None and net.pool is None
    assert {key.split(".")[0] for key in net.state_dict()} == {"recurrent", "head"}
    assert net(torch.randn(2, 5, 3)).shape == (2, 5, 1)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"cell": "tcn"}, ValueError, r"`cell`: expected one of 'gru', .*'rnn', got 'tcn'"),
        ({"pooling": "sum"}, ValueError, r"`pooling`: expected one of 'last', 'mean', 'max'"),
        (
            {"pooling": "mean"},
            ValueError,
            r"`pooling`: expected 'last' with return_sequences=True, got 'mean'\. .*"
            r"set return_sequences=False",
        ),
        ({"input_shape": (3,)}, ValueError, r"`vocab_size`: expected a positive integer for token"),
        ({"input_shape": (None, 3, 1)}, ValueError, r"`input_shape`: expected a sequence shape"),
        ({"vocab_size": 0, "input_shape": (None,)}, ValueError, r"`vocab_size`: .*got 0"),
        (
            {"vocab_size": 10},
            ValueError,
            r"`vocab_size`: expected None for feature vectors \(T, F\), got 10\. Give input_shape",
        ),
        ({"output_size": 0}, ValueError, r"`output_size`: expected a positive integer, got 0"),
        ({"hidden_size": -1}, ValueError, r"`hidden_size`: expected a positive integer, got -1"),
    ],
)
def test_bad_options_are_refused_with_the_argument_named(options, error, message):
    arguments = {"input_shape": (None, 3), "output_size": 2, **options}
    with pytest.raises(error, match=message):
        RecurrentNet(**arguments)


def test_token_ids_without_vocab_size_are_refused_with_the_fix():
    net = RecurrentNet((None, 3), 2)
    with pytest.raises(TypeError, match=r"expected floating-point features.*with `vocab_size`"):
        net(torch.tensor([[1, 2, 3]]))


def test_an_id_beyond_the_vocabulary_is_refused():
    net = RecurrentNet((None,), 2, vocab_size=5)
    with pytest.raises(ValueError, match=r"expected ids in \[0, 5\), got ids from 1 to 7"):
        net(torch.tensor([[1, 7]]))
