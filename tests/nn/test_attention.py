"""Additive attention against its equations, written out per position, and its masking."""

import torch

from convrec.nn import AdditiveAttention


def reference(attend: AdditiveAttention, query, memory, lengths):
    """``e_j = v^T tanh(W s + U h_j + b)`` per valid position, softmax, weighted sum, by loops."""
    contexts, all_weights = [], []
    for row, length in enumerate(lengths.tolist()):
        energies = []
        for position in range(length):
            hidden = attend.query.weight @ query[row] + attend.query.bias
            hidden = hidden + attend.memory.weight @ memory[row, position]
            energies.append(attend.score.weight[0] @ torch.tanh(hidden))
        weights = torch.softmax(torch.stack(energies), dim=0)
        contexts.append((weights[:, None] * memory[row, :length]).sum(dim=0))
        all_weights.append(torch.cat([weights, torch.zeros(memory.shape[1] - length)]))
    return torch.stack(contexts), torch.stack(all_weights)


def test_context_and_weights_follow_the_equations_forward_and_backward():
    torch.manual_seed(0)
    attend = AdditiveAttention(4, 6, 5).double()
    query = torch.randn(3, 4, dtype=torch.double, requires_grad=True)
    memory = torch.randn(3, 7, 6, dtype=torch.double, requires_grad=True)
    lengths = torch.tensor([7, 2, 5])
    context, weights = attend(query, attend.keys(memory), memory, lengths)
    expected_context, expected_weights = reference(attend, query, memory, lengths)
    torch.testing.assert_close(context, expected_context)
    torch.testing.assert_close(weights, expected_weights)
    got = torch.autograd.grad(context.square().sum(), (query, memory, attend.query.weight))
    wanted = torch.autograd.grad(
        expected_context.square().sum(), (query, memory, attend.query.weight)
    )
    for value, expected in zip(got, wanted, strict=True):
        torch.testing.assert_close(value, expected)


def test_padding_past_a_length_changes_nothing():
    torch.manual_seed(1)
    attend = AdditiveAttention(4, 6, 5)
    query, memory = torch.randn(2, 4), torch.randn(2, 5, 6)
    lengths = torch.tensor([5, 3])
    context, weights = attend(query, attend.keys(memory), memory, lengths)
    noisy = memory.clone()
    noisy[1, 3:] = 1e4 * torch.randn(2, 6)
    again, _ = attend(query, attend.keys(noisy), noisy, lengths)
    alone, _ = attend(query[1:], attend.keys(memory[1:, :3]), memory[1:, :3], lengths[1:])
    torch.testing.assert_close(again, context)
    torch.testing.assert_close(alone[0], context[1])
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(2))
    assert (weights[1, 3:] == 0).all()
