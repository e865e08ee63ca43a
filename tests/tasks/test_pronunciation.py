"""The g2p recipe end to end on a dictionary written by the test, whose pronunciations follow
letter rules with context (``ch`` is one phoneme, a final ``e`` is silent, a final ``s`` is also
said ``Z``): training learns them, the run predicts words from a text file, its metrics count any
listed pronunciation as right."""

from __future__ import annotations

import csv
import json
import random

import pytest
import torch
from typer.testing import CliRunner

import convrec
from convrec.cli import app
from convrec.errors import InvalidValueError
from convrec.models import Transduction
from convrec.models.seq2seq import END_ID, START_ID
from convrec.nn import Padded
from convrec.tasks import create_task
from convrec.tasks.sequence_errors import error_rates

RULES = {"a": "AE1", "b": "B", "c": "K", "d": "D", "e": "EH1", "f": "F", "g": "G", "h": "HH"}
RULES |= {"i": "IH1", "o": "AA1", "s": "S", "t": "T"}


def pronounce(word: str) -> list[str]:
    phonemes, index = [], 0
    while index < len(word):
        if word.startswith("ch", index):
            phonemes.append("CH")
            index += 2
        elif word[index] == "e" and index == len(word) - 1 and index > 0:
            index += 1
        else:
            phonemes.append(RULES[word[index]])
            index += 1
    return phonemes


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("g2p")
    generator = random.Random(0)
    letters = "".join(RULES)
    words = {
        "".join(generator.choice(letters) for _ in range(generator.randint(3, 7)))
        for _ in range(500)
    }
    lines = [f"{word} {' '.join(pronounce(word))}" for word in sorted(words)]
    lines += [
        f"{word}(2) {' '.join(pronounce(word)[:-1])} Z"
        for word in sorted(words)
        if word.endswith("s")
    ]
    (folder / "cmudict.dict").write_text("\n".join(lines) + "\n")
    run = convrec.train(
        "g2p",
        "seq2seq-attention",
        epochs=8,
        batch_size=16,
        lr=5e-3,
        out=str(folder / "runs"),
        progress=False,
        task_options={"root": str(folder), "test_fraction": 0.1, "validation_fraction": 0.1},
        model_options={"hidden_size": 32, "embedding_size": 16, "dropout": 0.0},
    )
    return run


def test_training_learns_the_letter_rules_of_held_out_words(trained):
    test = trained.metrics["test"]["test"]
    assert test["wer"] < 0.3 and test["per"] < 0.1, test
    assert set(test) == {"wer", "per", "wer_greedy", "per_greedy"}
    history = (trained.directory / "history.csv").read_text().splitlines()
    assert history[0].endswith("validation_wer") and len(history) == 9


def test_the_run_lists_test_words_and_draws_the_attention(trained):
    samples = (trained.directory / "samples.txt").read_text().splitlines()
    assert len(samples) == 40 and all(line[:3] in ("ok ", "ERR") for line in samples)
    for line in samples:
        word = line[4:].split()[0]
        listed = line.split("|")[1].split(" / ")
        expected = " ".join(symbol.rstrip("1") for symbol in pronounce(word))
        both = [expected, expected.rsplit(" ", 1)[0] + " Z"] if word.endswith("s") else [expected]
        assert [option.strip() for option in listed] == both
    assert (trained.directory / "alignment.png").stat().st_size > 1000
    flows = json.loads((trained.directory / "gradient_flow.json").read_text())
    assert [(flow["module"], flow["layer"]) for flow in flows] == [("encoder", 0)] * 2 + [
        ("encoder", 1)
    ] * 2


def test_convrec_predict_writes_the_pronunciation_of_each_word_of_a_text_file(trained, tmp_path):
    words = tmp_path / "words.txt"
    words.write_text("cheat\n\nBadge\ngift\n")
    result = CliRunner().invoke(app, ["predict", str(trained.directory), str(words)])
    assert result.exit_code == 0, result.output
    table = (tmp_path / "words.predictions.csv").read_text()
    rows = list(csv.DictReader(table.splitlines()))
    printed = CliRunner().invoke(app, ["predict", str(trained.directory), str(words), "--out", "-"])
    assert printed.exit_code == 0 and printed.output == table
    assert [row["word"] for row in rows] == ["cheat", "badge", "gift"]
    model = convrec.load(trained.directory)
    task = model.task
    ids = model.predict([task.letters.encode(word).numpy() for word in ("cheat", "badge", "gift")])
    assert [row["pronunciation"] for row in rows] == [task.spell(row.tolist()) for row in ids]
    assert (
        sum(
            row["pronunciation"].split() == [s.rstrip("1") for s in pronounce(row["word"])]
            for row in rows
        )
        >= 2
    )


def test_a_line_of_two_words_is_refused_naming_the_line(trained, tmp_path):
    words = tmp_path / "words.txt"
    words.write_text("cheat\nbad dog\n")
    with pytest.raises(
        InvalidValueError, match=r"words.txt, line 2: expected one word per line, got 'bad dog'"
    ):
        convrec.load(trained.directory).task.prediction_inputs(words)


def test_export_is_refused_with_the_way_to_predict(trained):
    result = CliRunner().invoke(app, ["export", str(trained.directory)])
    assert result.exit_code != 0
    assert "beam search" in str(result.exception) or "beam search" in result.output


def test_the_loss_counts_every_target_symbol_once_and_no_padding():
    task = create_task("g2p")
    items = [
        (torch.tensor([5, 6, 7]), torch.tensor([9, 10])),
        (torch.tensor([4]), torch.tensor([11, 12, 13, 14])),
    ]
    inputs, targets = task.collate(items)
    assert isinstance(inputs, Transduction)
    assert inputs.previous.data[0].tolist() == [START_ID, 9, 10, 0, 0]
    assert targets.data[0].tolist() == [9, 10, END_ID, 0, 0] and targets.lengths.tolist() == [3, 5]
    logits = Padded(torch.randn(2, 5, 16), targets.lengths)
    per_symbol = [
        torch.nn.functional.cross_entropy(
            logits.data[row, :length], targets.data[row, :length], reduction="sum"
        )
        for row, length in enumerate(targets.lengths.tolist())
    ]
    torch.testing.assert_close(task.loss(logits, targets), sum(per_symbol) / 8)


class Saying(torch.nn.Module):
    """A stand-in model whose predictions are given: the ids it says for each word, in order."""

    def __init__(self, said: list[list[int]]) -> None:
        super().__init__()
        self.said = said
        self.weight = torch.nn.Parameter(torch.zeros(1))

    def predict_ids(self, source, beam_size=None):
        answer, self.said = self.said[: source.batch_size], self.said[source.batch_size :]
        return answer


def test_a_word_said_as_its_second_pronunciation_is_right(trained):
    task = convrec.load(trained.directory).task
    test = task.build_data(0).tests["test"]
    second = [options[-1].tolist() for options in test.alternatives]
    assert any(len(options) == 2 for options in test.alternatives)
    assert task.evaluate(Saying(second * 2), test)["wer"] == 0.0
    wrong = [[*ids, 5] for ids in second]
    assert task.evaluate(Saying(wrong * 2), test)["wer"] == 1.0


def test_predict_refuses_a_text_that_is_not_one_word(trained):
    model = convrec.load(trained.directory)
    with pytest.raises(InvalidValueError, match="`input 1`: expected one word, got 'bad dog'"):
        model.predict(["cheat", "bad dog"])
    with pytest.raises(InvalidValueError, match="`input 0`: expected one word, got ''"):
        model.predict([""])


def test_error_rates_count_a_word_right_if_any_pronunciation_matches():
    predictions = [[4, 5, 6], [4, 5], [7]]
    references = [[[4, 5, 6]], [[9, 9], [4, 5, 8]], [[7, 8, 9, 10]]]
    rates = error_rates(predictions, references)
    assert rates["wer"] == pytest.approx(2 / 3)
    assert rates["per"] == pytest.approx((0 + 1 + 3) / (3 + 3 + 4))  # nearest: 4 5 8


def test_a_server_answers_words_with_their_phonemes(trained):
    import asyncio

    import httpx

    from convrec.serve import create_app

    async def ask() -> dict:
        app = create_app([trained.directory])
        async with app.router.lifespan_context(app):  # the batchers run
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://convrec") as client:
                response = await client.post("/predict", json={"inputs": ["Cheat", "gift"]})
        return response.json()

    answer = asyncio.run(ask())
    model = convrec.load(trained.directory)
    expected = model.predict(["cheat", "gift"])
    assert answer["predictions"] == [ids.tolist() for ids in expected]
    assert answer["texts"] == model.task.prediction_texts(expected)
