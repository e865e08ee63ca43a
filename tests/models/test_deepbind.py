"""DeepBind (Alipanahi et al. 2015): base ids and one-hot agree, both strands give one answer,
padding invariance, gradients, argument checks, fitting a tiny batch."""

import random

import pytest
import torch

from convrec.data.tokenizers import encode_dna, one_hot_dna
from convrec.models.deepbind import DeepBind, reverse_complement
from tests.models.padding_checks import assert_same_output_however_padded, padded_batch
from tests.models.zoo_checks import assert_every_parameter_gets_a_gradient, assert_overfits

COMPLEMENT = str.maketrans("ACGTN", "TGCAN")


def dna_strings(lengths: list[int]) -> list[str]:
    generator = random.Random(0)
    return ["".join(generator.choices("ACGTN", [3, 3, 3, 3, 1], k=n)) for n in lengths]


def small_deepbind(**options) -> DeepBind:
    return DeepBind((None,), 2, vocab_size=5, num_filters=8, filter_width=6, **options)


def test_default_network():
    net = DeepBind((200,), 2, vocab_size=5)
    motifs = net.motifs[0]
    assert (motifs.out_channels, motifs.kernel_size) == (64, (24,))
    assert net.head.in_features == 32 and net.reverse_complement
    assert net(torch.randint(0, 5, (3, 200))).shape == (3, 2)


def test_reverse_complement_complements_each_base_and_keeps_the_padding():
    batch = padded_batch([one_hot_dna("AACGN"), one_hot_dna("GT")])
    expected = padded_batch([one_hot_dna("NCGTT"), one_hot_dna("AC")])
    torch.testing.assert_close(reverse_complement(batch.data, batch.lengths), expected.data)


def test_base_ids_and_one_hot_bases_give_the_same_output():
    by_ids = small_deepbind().eval()
    by_codes = DeepBind((None, 4), 2, num_filters=8, filter_width=6).eval()
    by_codes.load_state_dict(by_ids.state_dict())
    strings = dna_strings([30, 4, 17])
    ids = padded_batch([encode_dna(string) for string in strings])
    codes = padded_batch([one_hot_dna(string) for string in strings])
    torch.testing.assert_close(by_ids(ids), by_codes(codes))


def test_a_sequence_and_its_reverse_complement_give_the_same_output():
    strings = dna_strings([40, 3, 25, 1])
    forward = padded_batch([encode_dna(string) for string in strings])
    reverse = [string.translate(COMPLEMENT)[::-1] for string in strings]
    backward = padded_batch([encode_dna(string) for string in reverse], extra=3)
    net = small_deepbind().eval()
    torch.testing.assert_close(net(forward), net(backward), atol=1e-5, rtol=1e-5)
    one_strand = small_deepbind(reverse_complement=False).eval()
    assert not torch.allclose(one_strand(forward), one_strand(backward), atol=1e-3)


def test_output_of_a_sequence_does_not_depend_on_its_padding():
    sequences = [encode_dna(string) for string in dna_strings([25, 1, 9, 40, 6])]
    assert_same_output_however_padded(small_deepbind(), sequences, fill=4)
    one_hot = [one_hot_dna(string) for string in dna_strings([25, 1, 9, 40, 6])]
    codes = DeepBind((None, 4), 2, num_filters=8, filter_width=6)
    assert_same_output_however_padded(codes, one_hot, fill=1e3)


def test_every_parameter_gets_a_gradient():
    batch = padded_batch([encode_dna(string) for string in dna_strings([20, 7, 12])])
    assert_every_parameter_gets_a_gradient(small_deepbind(), batch, torch.tensor([0, 1, 1]))


def test_fits_a_tiny_batch():
    batch = padded_batch([encode_dna(string) for string in dna_strings([30] * 8)])
    assert_overfits(small_deepbind(dropout=0.0), batch, torch.arange(8) % 2)


def test_bad_arguments_are_refused_with_what_was_expected():
    with pytest.raises(ValueError, match=r"`vocab_size`: expected 4 \(ids of A C G T\) or 5"):
        DeepBind((None,), 2, vocab_size=12)
    with pytest.raises(ValueError, match=r"`input_shape`: expected \(T, 4\): one-hot A C G T"):
        DeepBind((None, 5), 2)
    with pytest.raises(ValueError, match="`filter_width`: expected a positive integer, got 0"):
        DeepBind((None, 4), 2, filter_width=0)
    with pytest.raises(TypeError, match="`reverse_complement`: expected True or False"):
        DeepBind((None, 4), 2, reverse_complement="yes")


def test_ids_outside_the_alphabet_are_refused():
    with pytest.raises(ValueError, match=r"expected ids in \[0, 5\), got ids from 0 to 7"):
        small_deepbind()(torch.tensor([[0, 7, 2]]))
