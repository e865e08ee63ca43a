"""TextCNN (Kim 2014): token and feature input, short sentences, padding invariance, gradients,
argument checks, fitting a tiny batch."""

import pytest
import torch

from convrec.models.textcnn import TextCNN
from convrec.nn import Padded
from tests.models.padding_checks import assert_same_output_however_padded, padded_batch
from tests.models.zoo_checks import assert_every_parameter_gets_a_gradient, assert_overfits

VOCABULARY = 30


def small_textcnn(**options) -> TextCNN:
    return TextCNN((None,), 3, vocab_size=VOCABULARY, embedding_dim=16, num_filters=8, **options)


def sentences(lengths: list[int]) -> list[torch.Tensor]:
    return [torch.randint(1, VOCABULARY, (length,)) for length in lengths]


def test_default_network_follows_the_paper():
    net = TextCNN((None,), 2, vocab_size=100)
    assert [conv.kernel_size[0] for conv in net.convs] == [3, 4, 5]
    assert net.embed.embedding_dim == 128 and net.embed.padding_idx == 0
    assert net.head.in_features == 300 and net.dropout.p == 0.5
    assert net(torch.randint(1, 100, (4, 12))).shape == (4, 2)


def test_sentences_shorter_than_the_widest_filter_have_features():
    net = small_textcnn(widths=(2, 7)).eval()
    one_word = torch.tensor([[5]])
    assert net(one_word).shape == (1, 3)
    assert net(padded_batch(sentences([1, 2, 6]))).shape == (3, 3)


def test_output_of_a_sentence_does_not_depend_on_its_padding():
    lengths = torch.randint(1, 12, (6,)).tolist()
    assert_same_output_however_padded(small_textcnn(), sentences(lengths), fill=7)


def test_zero_padded_ids_need_no_lengths():
    net = small_textcnn().eval()
    batch = padded_batch(sentences([9, 2, 5]), extra=4)
    torch.testing.assert_close(net(batch.data), net(batch))


def test_feature_vectors_skip_the_embedding():
    net = TextCNN((None, 6), 2, num_filters=8)
    assert isinstance(net.embed, torch.nn.Identity)
    lengths = torch.randint(1, 12, (5,)).tolist()
    assert_same_output_however_padded(net, [torch.randn(n, 6) for n in lengths], fill=1e3)


def test_every_parameter_gets_a_gradient():
    batch = padded_batch(sentences([6, 1, 4]))
    assert_every_parameter_gets_a_gradient(small_textcnn(), batch, torch.tensor([0, 1, 2]))


def test_fits_a_tiny_batch():
    assert_overfits(
        small_textcnn(), padded_batch(sentences([8, 3, 5, 9, 2, 7])), torch.arange(6) % 3
    )


def test_bad_arguments_are_refused_with_what_was_expected():
    with pytest.raises(ValueError, match="`vocab_size`: expected a positive integer for token ids"):
        TextCNN((None,), 2)
    with pytest.raises(
        ValueError, match=r"`vocab_size`: expected None for feature vectors \(T, F\)"
    ):
        TextCNN((None, 6), 2, vocab_size=10)
    with pytest.raises(
        ValueError, match="`widths`: expected a non-empty tuple of positive integers"
    ):
        TextCNN((None,), 2, vocab_size=10, widths=(3, 0))
    with pytest.raises(ValueError, match=r"`dropout`: expected a number in \[0, 1\), got 1.0"):
        TextCNN((None,), 2, vocab_size=10, dropout=1.0)
    with pytest.raises(ValueError, match="`num_filters`: expected a positive integer, got 0"):
        TextCNN((None,), 2, vocab_size=10, num_filters=0)


def test_a_padded_input_of_floats_to_a_token_model_is_refused():
    with pytest.raises(TypeError, match="expected integer ids"):
        small_textcnn()(Padded(torch.randn(2, 4), [4, 2]))
