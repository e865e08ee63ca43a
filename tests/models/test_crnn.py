"""CRNN (Choi et al. 2017; Arik et al. 2017): shapes and lengths through the front end, padding
invariance for every read-out (per frame too), gradients, argument checks, fitting a tiny batch."""

import pytest
import torch

from convrec.models.crnn import CRNN
from convrec.nn import Padded
from tests.models.padding_checks import assert_same_output_however_padded
from tests.models.zoo_checks import assert_every_parameter_gets_a_gradient, assert_overfits


def small_crnn(**options) -> CRNN:
    return CRNN((None, 10), 4, channels=(8, 8), hidden_size=8, **options)


def test_default_network_on_keyword_clips():
    net = CRNN((100, 40), 12)
    assert net(torch.randn(4, 100, 40)).shape == (4, 12)
    assert net.recurrent.bidirectional and net.head.in_features == 128


def test_time_pooling_shortens_each_sequence():
    net = small_crnn(pool_size=2).eval()
    frames = net.front(Padded(torch.randn(3, 20, 10), [20, 7, 1]))
    assert frames.lengths.tolist() == [5, 2, 1]
    assert small_crnn(pool_size=1).front(torch.randn(3, 20, 10)).shape == (3, 20, 8)


@pytest.mark.parametrize("readout", ["mean", "max", "last"])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_output_of_a_sequence_does_not_depend_on_its_padding(readout, bidirectional):
    lengths = torch.randint(1, 30, (5,)).tolist()
    net = small_crnn(readout=readout, bidirectional=bidirectional)
    assert_same_output_however_padded(net, [torch.randn(n, 10) for n in lengths], fill=1e3)


@pytest.mark.parametrize("bidirectional", [True, False])
def test_frame_outputs_of_a_sequence_do_not_depend_on_its_padding(bidirectional):
    net = small_crnn(readout="frames", bidirectional=bidirectional, pool_size=2).eval()
    lengths = [29, 1, 12, 8]
    sequences = [torch.randn(n, 10) for n in lengths]
    data = torch.full((4, 36, 10), 1e3)
    for row, sequence in enumerate(sequences):
        data[row, : len(sequence)] = sequence
    with torch.no_grad():
        together = net(Padded(data, lengths))
        assert together.lengths.tolist() == [8, 1, 3, 2]  # ceil(ceil(L / 2) / 2)
        for row, sequence in enumerate(sequences):
            alone = net(sequence[None])
            assert alone.shape == (1, together.lengths[row], 4)
            torch.testing.assert_close(
                together.data[row, : together.lengths[row]], alone[0], atol=1e-5, rtol=1e-5
            )


def test_every_parameter_gets_a_gradient():
    batch = Padded(torch.randn(3, 16, 10), [16, 9, 2])
    net = small_crnn(num_layers=2)
    assert_every_parameter_gets_a_gradient(net, batch, torch.tensor([0, 1, 3]))


def test_fits_a_tiny_batch():
    assert_overfits(small_crnn(dropout=0.0), torch.randn(8, 24, 10), torch.arange(8) % 4)


def test_bad_arguments_are_refused_with_what_was_expected():
    with pytest.raises(
        ValueError, match="`readout`: expected one of 'mean', 'max', 'last', 'frames'"
    ):
        small_crnn(readout="first")
    with pytest.raises(ValueError, match="`channels`: expected a non-empty tuple"):
        CRNN((None, 10), 4, channels=[])
    with pytest.raises(ValueError, match="`pool_size`: expected a positive integer, got 0"):
        small_crnn(pool_size=0)
    with pytest.raises(ValueError, match=r"`dropout`: expected a number in \[0, 1\)"):
        small_crnn(dropout=-0.1)
    with pytest.raises(ValueError, match=r"CRNN: .*`input_shape`: expected a sequence shape"):
        CRNN((None, 10, 3), 4)
