"""Greedy decoding and beam search on decoders whose best output is known: a table of
next-symbol probabilities given the previous symbol, searched exhaustively."""

import itertools

import pytest
import torch

from convrec.nn.decoding import beam_search, greedy_decode

START, END, SYMBOLS = 0, 1, 4


def table_step(table: torch.Tensor):
    """A decoder with no memory but its previous symbol: ``log p(next | previous)`` per row of
    ``table (B, V, V)``; the carried ``row`` says which table each hypothesis reads."""

    def step(previous, carried):
        rows = carried["row"]
        return table[rows, previous].log(), carried

    return step


def best_by_enumeration(table: torch.Tensor, max_length: int) -> list[int]:
    """The most probable sequence ending in END within max_length symbols (END included), or of
    max_length symbols if none ends, by trying all of them."""
    best, best_score = None, float("-inf")
    for length in range(1, max_length + 1):
        for body in itertools.product(range(SYMBOLS), repeat=length - 1):
            sequence = [*body, END]
            if END in body:
                continue
            score, previous = 0.0, START
            for symbol in sequence:
                score += float(table[previous, symbol].log())
                previous = symbol
            if score > best_score:
                best, best_score = list(body), score
    return best


def random_tables(batch: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    logits = 2.5 * torch.randn(batch, SYMBOLS, SYMBOLS, generator=generator, dtype=torch.double)
    logits[..., START] = float("-inf")  # START is never an output
    return logits.softmax(dim=-1)


@pytest.mark.parametrize("seed", range(6))
def test_a_wide_beam_finds_the_most_probable_output(seed):
    tables = random_tables(5, seed)
    carried = {"row": torch.arange(5)}
    found = beam_search(table_step(tables), carried, 5, START, END, max_length=5, beam_size=40)
    assert found == [best_by_enumeration(tables[row], 5) for row in range(5)]


def test_beam_search_beats_greedy_where_the_first_step_misleads():
    table = torch.full((1, SYMBOLS, SYMBOLS), 1e-6, dtype=torch.double)
    table[0, START, 2], table[0, START, 3] = 0.55, 0.45  # greedy takes 2 ...
    table[0, 2, 2], table[0, 2, 3], table[0, 2, END] = 0.34, 0.33, 0.33  # ... then nothing sure
    table[0, 3, END] = 0.99  # 3 then END: 0.45 * 0.99 beats 0.55 * 0.34
    table[0, 3, 2] = 0.01
    table[0, END, END] = 1.0
    table = table / table.sum(dim=-1, keepdim=True)
    carried = {"row": torch.zeros(1, dtype=torch.long)}
    step = table_step(table)
    greedy, _ = greedy_decode(step, carried, 1, START, END, max_length=6)
    assert greedy[0][0] == 2
    assert beam_search(step, carried, 1, START, END, max_length=6, beam_size=2) == [[3]]


@pytest.mark.parametrize("seed", range(3))
def test_a_beam_of_one_is_greedy_decoding(seed):
    tables = random_tables(4, seed)
    carried = {"row": torch.arange(4)}
    greedy, log_probs = greedy_decode(table_step(tables), carried, 4, START, END, max_length=7)
    assert beam_search(table_step(tables), carried, 4, START, END, 7, beam_size=1) == greedy
    assert log_probs.shape[0] == 4 and log_probs.shape[2] == SYMBOLS
    for row, ids in enumerate(greedy):  # each chosen id is its step's argmax
        assert log_probs[row, : len(ids)].argmax(dim=-1).tolist() == ids


def test_an_output_that_never_ends_stops_at_max_length():
    table = torch.full((1, SYMBOLS, SYMBOLS), 0.25, dtype=torch.double)
    table[0, :, END] = 0.0
    table[0, :, 2] = 0.5
    table[0, :, 3] = 0.25
    table[0, :, START] = 0.0
    carried = {"row": torch.zeros(1, dtype=torch.long)}
    assert greedy_decode(table_step(table), carried, 1, START, END, 4)[0] == [[2, 2, 2, 2]]
    assert beam_search(table_step(table), carried, 1, START, END, 4, 3) == [[2, 2, 2, 2]]


def test_a_prefix_that_ended_beats_a_likelier_one_that_did_not():
    table = torch.full((1, SYMBOLS, SYMBOLS), 1e-9, dtype=torch.double)
    table[0, START, 2], table[0, START, END] = 0.9, 0.1  # END at once: 0.1
    table[0, 2, 2] = 1.0  # 2 2 2 ... never ends, each prefix at 0.9
    table[0, END, END] = 1.0
    carried = {"row": torch.zeros(1, dtype=torch.long)}
    assert beam_search(table_step(table), carried, 1, START, END, 4, beam_size=2) == [[]]
    assert beam_search(table_step(table), carried, 1, START, END, 4, beam_size=1) == [[2, 2, 2, 2]]


def test_a_beam_wider_than_the_vocabulary_keeps_every_prefix_once():
    tables = random_tables(3, seed=7)
    carried = {"row": torch.arange(3)}
    wide = beam_search(table_step(tables), carried, 3, START, END, 4, beam_size=3 * SYMBOLS**2)
    assert wide == [best_by_enumeration(tables[row], 4) for row in range(3)]
