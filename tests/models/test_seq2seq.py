"""The encoder-decoders: teacher forcing against step-by-step decoding, padding of the source and
of the targets, prediction alone and in a batch, learning a small mapping, bad arguments."""

import pytest
import torch
import torch.nn.functional as F

from convrec.models import Transduction, create
from convrec.models.seq2seq import END_ID, START_ID, EncoderDecoder, without_specials
from convrec.nn import Padded

MODELS = ("seq2seq", "seq2seq-attention")
VOCABULARY, OUTPUTS = 9, 11


def small(name: str, **options):
    torch.manual_seed(0)
    arguments = {"hidden_size": 8, "embedding_size": 6, "dropout": 0.0} | options
    return create(
        name, input_shape=(None,), output_size=OUTPUTS, vocab_size=VOCABULARY, **arguments
    )


def batch(seed: int = 0) -> Transduction:
    generator = torch.Generator().manual_seed(seed)
    sources = [torch.randint(2, VOCABULARY, (length,), generator=generator) for length in (6, 2, 4)]
    targets = [torch.randint(4, OUTPUTS, (length,), generator=generator) for length in (3, 5, 1)]
    previous = [torch.cat([torch.tensor([START_ID]), target]) for target in targets]
    return Transduction(Padded.from_sequences(sources), Padded.from_sequences(previous))


def test_the_context_model_s_fused_decoder_equals_its_step_by_step_loop_forward_and_backward():
    model = small("seq2seq").double()
    inputs = batch()
    carried = model.encode(inputs.source)
    fused = model.teacher_forced(inputs.previous.data, carried)
    stepped = EncoderDecoder.teacher_forced(model, inputs.previous.data, carried)
    torch.testing.assert_close(fused, stepped)
    weights = model.decoder.cells[0].weight_hh
    got = torch.autograd.grad(fused.square().sum(), weights, retain_graph=True)[0]
    torch.testing.assert_close(got, torch.autograd.grad(stepped.square().sum(), weights)[0])


@pytest.mark.parametrize("name", MODELS)
def test_a_pair_gives_the_same_logits_alone_as_in_a_padded_batch(name):
    model = small(name).eval()
    inputs = batch()
    with torch.no_grad():
        together = model(inputs)
        assert together.lengths.tolist() == [4, 6, 2]
        for row in range(3):
            source_length, target_length = (
                int(inputs.source.lengths[row]),
                int(inputs.previous.lengths[row]),
            )
            alone = model(
                Transduction(
                    Padded(inputs.source.data[row : row + 1, :source_length], [source_length]),
                    Padded(inputs.previous.data[row : row + 1, :target_length], [target_length]),
                )
            )
            torch.testing.assert_close(
                together.data[row, :target_length], alone.data[0], atol=1e-6, rtol=1e-5
            )


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("beam_size", [1, 3])
def test_prediction_is_the_same_alone_as_in_a_batch(name, beam_size):
    model = small(name, max_length=7).eval()
    source = batch(1).source
    together = model.predict_ids(source, beam_size)
    for row, length in enumerate(source.lengths.tolist()):
        alone = model.predict_ids(Padded(source.data[row : row + 1, :length], [length]), beam_size)
        assert alone == [together[row]]
    assert all(len(ids) <= 7 and END_ID not in ids for ids in together)


@pytest.mark.parametrize("name", MODELS)
def test_greedy_decoding_scores_what_teacher_forcing_scores_on_the_same_outputs(name):
    model = small(name, max_length=6).eval()
    source = batch(2).source
    with torch.no_grad():
        free = model(source)  # a source alone: the log-probabilities of its greedy decoding
        chosen = free.data.argmax(dim=-1)
        previous = torch.cat([torch.full((3, 1), START_ID), chosen[:, :-1]], dim=1)
        forced = model(Transduction(source, Padded(previous, [previous.shape[1]] * 3))).data
    forced = without_specials(forced)  # prediction never outputs <pad>, <unk> or <s>
    assert (chosen > START_ID).all()
    for row, length in enumerate(free.lengths.tolist()):
        torch.testing.assert_close(
            free.data[row, :length], F.log_softmax(forced[row, :length], dim=-1)
        )


@pytest.mark.parametrize("name", MODELS)
def test_each_model_learns_to_spell_a_few_sources_backwards(name):
    """Targets are the sources reversed (ids shifted past the specials): 60 Adam steps on 16
    pairs leave every one right under greedy decoding."""
    model = small(name, hidden_size=24, max_length=8)
    generator = torch.Generator().manual_seed(3)
    sources = [
        torch.randint(2, VOCABULARY, (int(length),), generator=generator)
        for length in torch.randint(2, 6, (16,), generator=generator)
    ]
    targets = [(source.flip(0) + 2) for source in sources]
    inputs = Transduction(
        Padded.from_sequences(sources),
        Padded.from_sequences(
            [torch.cat([torch.tensor([START_ID]), target]) for target in targets]
        ),
    )
    wanted = Padded.from_sequences(
        [torch.cat([target, torch.tensor([END_ID])]) for target in targets]
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-2)
    for _ in range(60):
        optimizer.zero_grad()
        loss = F.cross_entropy(
            model(inputs).data.flatten(0, 1), wanted.data.flatten(), ignore_index=0
        )
        loss.backward()
        optimizer.step()
    model.eval()
    assert model.predict_ids(inputs.source, beam_size=1) == [target.tolist() for target in targets]


def test_bad_arguments_are_refused_by_name():
    with pytest.raises(ValueError, match="`output_size`: expected at least 5"):
        create("seq2seq", input_shape=(None,), output_size=4, vocab_size=VOCABULARY)
    with pytest.raises(ValueError, match=r"`input_shape`: expected \(T,\) for token ids"):
        create("seq2seq-attention", input_shape=(None, 3), output_size=OUTPUTS)
    with pytest.raises(ValueError, match="`vocab_size`: expected a positive integer"):
        create("seq2seq", input_shape=(None,), output_size=OUTPUTS)
    model = small("seq2seq")
    with pytest.raises(TypeError, match="`batch`: expected a Transduction"):
        model([torch.ones(2, 3, dtype=torch.long)])
    with pytest.raises(ValueError, match="`beam_size`"):
        model.predict_ids(batch().source, beam_size=0)
