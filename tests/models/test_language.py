"""CharLM: shapes, state carrying equal to rereading the prefix, sampling, learning a string."""

import pytest
import torch
import torch.nn.functional as F

from convrec.models import create
from convrec.models.language import CharLM, sample_next
from convrec.nn import Padded

VOCAB = 7


def small_model(cell: str = "lstm", **options) -> CharLM:
    return CharLM((None,), VOCAB, cell=cell, embedding_dim=5, hidden_size=8, **options)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_logits_at_every_step_as_a_padded_batch(cell):
    model = create("charlm", input_shape=(None,), output_size=VOCAB, cell=cell, hidden_size=8)
    logits = model(torch.tensor([[2, 3, 4, 5], [6, 2, 0, 0]]))
    assert isinstance(logits, Padded)
    assert logits.data.shape == (2, 4, VOCAB)
    assert logits.lengths.tolist() == [4, 2]
    again = model(Padded(torch.tensor([[2, 3, 4, 5], [6, 2, 0, 0]]), [4, 2]))
    torch.testing.assert_close(again.data, logits.data)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_carrying_the_state_gives_the_logits_of_rereading_the_whole_prefix(cell):
    model = small_model(cell, num_layers=2).double().eval()
    text = torch.tensor([[2, 5, 3, 3, 6, 4, 2, 5, 1]])
    whole = model(text).data
    pieces, state = [], None
    for start, end in [(0, 3), (3, 4), (4, 8), (8, 9)]:
        logits, state = model.advance(text[:, start:end], state)
        pieces.append(logits.data)
    torch.testing.assert_close(torch.cat(pieces, dim=1), whole, rtol=1e-12, atol=1e-12)


def test_greedy_generation_is_the_argmax_of_rereading_each_prefix():
    model = small_model(num_layers=2).double()
    prompt = torch.tensor([2, 4, 3])
    generated = model.generate(prompt, length=12, temperature=0)
    text = prompt
    for next_id in generated:
        assert next_id == model(text.unsqueeze(0)).data[0, -1, 1:].argmax() + 1
        text = torch.cat([text, next_id.view(1)])


def test_greedy_generation_is_deterministic_and_ignores_the_random_state():
    model = small_model()
    prompt = torch.tensor([3, 2])
    first = model.generate(prompt, 20, temperature=0, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(123)
    assert torch.equal(model.generate(prompt, 20, temperature=0), first)


def test_the_same_seed_gives_the_same_text_and_another_seed_other_text():
    model = small_model()
    prompt = torch.tensor([3, 2])

    def sample(seed: int) -> torch.Tensor:
        return model.generate(
            prompt, 40, temperature=1.5, generator=torch.Generator().manual_seed(seed)
        )

    assert torch.equal(sample(7), sample(7))
    assert not torch.equal(sample(7), sample(8))


def test_sampling_concentrates_on_the_argmax_as_the_temperature_goes_to_zero():
    logits = torch.tensor([[0.0, 1.0, 1.5, 2.0, 0.5]]).expand(4000, 5)
    generator = torch.Generator().manual_seed(0)
    shares = [
        sample_next(logits, temperature, generator).eq(3).float().mean().item()
        for temperature in (2.0, 1.0, 0.3, 0.05, 1e-30)
    ]
    assert shares == sorted(shares)
    assert shares[0] < 0.5 and shares[-1] == 1.0
    assert torch.equal(sample_next(logits, 1e-30, generator), sample_next(logits, 0))


def test_a_tiny_temperature_generates_the_greedy_text():
    model = small_model()
    prompt = torch.tensor([5])
    greedy = model.generate(prompt, 25, temperature=0)
    assert torch.equal(model.generate(prompt, 25, temperature=1e-6), greedy)


@pytest.mark.parametrize("temperature", [0, 0.5, 1.0, 50.0])
def test_padding_is_never_generated_even_when_it_scores_highest(temperature):
    model = small_model()
    with torch.no_grad():
        model.head.module.bias[0] = 100.0
    generated = model.generate(
        torch.tensor([2]), 50, temperature, generator=torch.Generator().manual_seed(0)
    )
    assert generated.min() >= 1


def test_generation_restores_the_training_mode():
    model = small_model(num_layers=2, dropout=0.5).train()
    prompt = torch.tensor([2, 3])
    greedy = model.generate(prompt, 10, temperature=0)
    assert model.training
    assert torch.equal(model.generate(prompt, 10, temperature=0), greedy)  # no dropout inside


def test_a_tiny_model_learns_a_repeated_string_and_continues_it():
    model = CharLM((None,), 5, embedding_dim=8, hidden_size=24, num_layers=1)
    text = torch.tensor([2, 3, 4] * 12)  # "abcabc..." with a=2, b=3, c=4
    windows = torch.stack([text[start : start + 13] for start in range(0, 20)])  # (20, 13)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-2)
    for _ in range(60):
        logits = model(windows[:, :-1]).data  # (B, T, V)
        loss = F.cross_entropy(logits.reshape(-1, 5), windows[:, 1:].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05
    generated = model.generate(torch.tensor([3, 4]), 30, temperature=0)
    assert generated.tolist() == [2, 3, 4] * 10


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        (
            {"output_size": 1},
            ValueError,
            r"`output_size`: expected an integer >= 2, the vocab.*got 1",
        ),
        ({"vocab_size": 9}, ValueError, r"`vocab_size`: expected None or the output_size 7"),
        ({"input_shape": (None, 3)}, ValueError, r"`input_shape`: expected \(T,\).*vocabulary"),
        ({"input_shape": (0,)}, ValueError, r"`input_shape`: expected \(T,\).*got \(0,\)"),
        ({"cell": "tcn"}, ValueError, r"`cell`: expected one of 'gru', .*'rnn', got 'tcn'"),
        ({"embedding_dim": 0}, ValueError, r"`embedding_dim`: expected a positive integer"),
        ({"dropout": 1.0}, ValueError, r"`dropout`: expected a number in \[0, 1\), got 1\.0"),
    ],
)
def test_bad_options_are_refused_with_the_argument_named(options, error, message):
    arguments = {"input_shape": (None,), "output_size": VOCAB, **options}
    with pytest.raises(error, match=message):
        CharLM(**arguments)


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"prompt_ids": torch.tensor([])}, ValueError, r"`prompt_ids`: expected a non-empty"),
        ({"prompt_ids": torch.tensor([[2]])}, ValueError, r"`prompt_ids`: .*\(P,\) integer"),
        ({"prompt_ids": torch.tensor([0, 2])}, ValueError, r"ids in \[1, 7\) \(0 is padding\)"),
        ({"prompt_ids": torch.tensor([7])}, ValueError, r"ids in \[1, 7\).*got ids from 7 to 7"),
        ({"length": 0}, ValueError, r"`length`: expected a positive integer, got 0"),
        ({"temperature": -1.0}, ValueError, r"`temperature`: expected a finite number >= 0"),
        ({"temperature": float("nan")}, ValueError, r"`temperature`: .*got nan"),
        ({"generator": 3}, TypeError, r"`generator`: expected a torch.Generator or None"),
    ],
)
def test_bad_generation_arguments_are_refused(arguments, error, message):
    call = {"prompt_ids": torch.tensor([2]), "length": 3, **arguments}
    with pytest.raises(error, match=message):
        small_model().generate(**call)
