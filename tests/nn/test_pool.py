"""Pooling: the notes' grids, fast kernels against the definition, masks, k-max and global."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from convrec.nn import (
    GlobalPool,
    KMaxPool1d,
    Padded,
    Pool1d,
    Pool2d,
    Pool3d,
    pool_fast,
    pool_windows,
)
from convrec.nn.conv import resolve_padding

GRID_001 = [[1.0, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]]
GRID_000 = [[2.0, 5, 3, 1], [4, 8, 9, 1], [5, 4, 7, 3], [0, 4, 1, 2]]
MAP_1 = [[3.0, -1, -3, -1], [-3, 1, 0, -3], [-3, -3, 0, 1], [3, -2, -2, -1]]  # the notes
MAP_2 = [[-1.0, -1, -1, -1], [-1, -1, -2, 1], [-1, -1, -2, 1], [-1, 0, -4, 3]]
CONV_POOL_MAP = [[6.0, 6, 6, 6], [4, 5, 5, 4], [2, 4, 4, 2], [2, 4, 4, 2]]


def pool_grid(kind: str, grid: list) -> list:
    return Pool2d(kind, 2)(torch.tensor(grid).view(1, 1, 4, 4)).view(2, 2).tolist()


@pytest.mark.parametrize(
    ("kind", "grid", "expected"),
    [
        ("max", GRID_001, [[6, 8], [3, 4]]),  # the notes
        ("mean", GRID_001, [[3.25, 5.25], [2, 2]]),
        ("max", GRID_000, [[8, 9], [5, 7]]),  # the notes
        ("min", GRID_000, [[2, 1], [0, 1]]),
        ("mean", GRID_000, [[4.75, 3.5], [3.25, 3.25]]),
        ("max", MAP_1, [[3, 0], [3, 1]]),  # the notes, max pooling of the two feature maps
        ("max", MAP_2, [[-1, 1], [0, 3]]),
        ("max", CONV_POOL_MAP, [[6, 6], [4, 4]]),  # the notes, max, average and sum pooling
        ("mean", CONV_POOL_MAP, [[5.25, 5.25], [3, 3]]),
        ("sum", CONV_POOL_MAP, [[21, 21], [12, 12]]),
    ],
)
def test_the_notes_pooling_grids(kind, grid, expected):
    assert pool_grid(kind, grid) == expected


def test_lp_pooling_is_the_p_norm_of_each_window():
    pooled = Pool1d("lp", 2, norm_type=2)(torch.tensor([[[3.0], [-4.0], [1.0]]]))
    torch.testing.assert_close(pooled.flatten(), torch.tensor([5.0, 1.0]))


pool_cases = st.fixed_dictionaries(
    {
        "dims": st.integers(1, 3),
        "kind": st.sampled_from(["max", "min", "mean", "sum", "lp"]),
        "kernel": st.integers(1, 3),
        "stride": st.integers(1, 3),
        "padding": st.integers(0, 1),
        "dilation": st.integers(1, 2),
        "ceil_mode": st.booleans(),
    }
)


@given(case=pool_cases)
def test_fast_kernels_equal_the_definition_forward_and_backward(case):
    dims = case["dims"]
    kernel, dilation = (case["kernel"],) * dims, (case["dilation"],) * dims
    padding = resolve_padding("test", case["padding"], kernel, dilation)
    arguments = (
        case["kind"],
        kernel,
        (case["stride"],) * dims,
        padding,
        dilation,
        (case["ceil_mode"],) * dims,
    )
    x = torch.randn(2, 3, *(7, 6, 5)[:dims], dtype=torch.float64, requires_grad=True)
    fast = pool_fast(x, *arguments)
    if fast is None:  # a combination PyTorch's kernels do not cover
        assert case["padding"] * 2 > (case["kernel"] - 1) * case["dilation"] + 1 or (
            case["dilation"] > 1 and case["kind"] not in ("max", "min")
        )
        return
    windows = pool_windows(x, *arguments)
    torch.testing.assert_close(fast, windows, rtol=1e-10, atol=1e-10)
    grad_output = torch.randn_like(fast)
    (fast_grad,) = torch.autograd.grad(fast, x, grad_output)
    (windows_grad,) = torch.autograd.grad(windows, x, grad_output)
    torch.testing.assert_close(fast_grad, windows_grad, rtol=1e-10, atol=1e-10)


def test_pool1d_is_channels_last_and_matches_torch():
    x = torch.randn(2, 9, 3)
    expected = torch.nn.functional.max_pool1d(x.transpose(1, 2), 3, 2, ceil_mode=True).transpose(
        1, 2
    )
    torch.testing.assert_close(Pool1d("max", 3, 2)(x), expected)


def test_a_window_larger_than_the_input_is_one_partial_window_in_ceil_mode():
    assert Pool2d("max", 3)(torch.arange(4.0).view(1, 1, 2, 2)).item() == 3.0


def test_pool3d_reduces_each_window():
    x = torch.arange(8.0).view(1, 1, 2, 2, 2)
    assert Pool3d("sum", 2)(x).item() == 28.0


@pytest.mark.parametrize("kind", ["max", "min", "mean", "sum"])
def test_padding_never_wins_or_counts(kind):
    data = torch.tensor([[[1.0], [2.0], [1000.0], [-1000.0]]])
    batch = Padded(data, [2])
    output = Pool1d(kind, 4)(batch)
    expected = {"max": 2.0, "min": 1.0, "mean": 1.5, "sum": 3.0}[kind]
    assert output.data.flatten().tolist() == [expected]
    assert output.lengths.tolist() == [1]


def test_padded_lengths_follow_the_formula_and_empty_windows_are_zero():
    batch = Padded(torch.randn(3, 9, 2), [9, 4, 1])
    output = Pool1d("max", 2)(batch)
    assert output.lengths.tolist() == [5, 2, 1]
    assert output.data.shape == (3, 5, 2)
    assert not output.data[~output.mask()].any()
    assert torch.isfinite(output.data).all()


def test_same_and_causal_pooling_keep_ceil_n_over_s():
    x = torch.randn(1, 10, 2)
    assert Pool1d("max", 3, 2, padding="same")(x).shape == (1, 5, 2)
    assert Pool1d("mean", 3, 1, padding="causal")(x).shape == (1, 10, 2)
    causal = Pool1d("max", 3, 1, padding="causal")(torch.arange(4.0).view(1, 4, 1))
    assert causal.flatten().tolist() == [0.0, 1.0, 2.0, 3.0]


def test_mean_pooling_spreads_the_gradient_and_max_pooling_routes_it():
    # the notes, exercise on pooling over time: dl/dh_i = dl/do / L for the mean, and only the
    # winner receives dl/do for the max.
    h = torch.tensor([[[1.0], [4.0], [2.0]]], requires_grad=True)
    (mean_grad,) = torch.autograd.grad(GlobalPool("mean")(h).sum() * 6, h)
    (max_grad,) = torch.autograd.grad(GlobalPool("max")(h).sum() * 6, h)
    assert mean_grad.flatten().tolist() == [2.0, 2.0, 2.0]
    assert max_grad.flatten().tolist() == [0.0, 6.0, 0.0]


def test_kmax_keeps_the_k_largest_in_their_original_order():
    x = torch.tensor([[[1.0, 9.0], [5.0, 8.0], [2.0, 0.0], [4.0, 7.0]]])
    assert KMaxPool1d(3)(x)[0].tolist() == [[5.0, 9.0], [2.0, 8.0], [4.0, 7.0]]
    assert KMaxPool1d(2)(x)[0].tolist() == [[5.0, 9.0], [4.0, 8.0]]


def test_kmax_with_padding_never_selects_it_and_keeps_short_sequences_whole():
    data = torch.tensor([[[1.0], [5.0], [2.0], [4.0]], [[3.0], [100.0], [100.0], [100.0]]])
    output = KMaxPool1d(3)(Padded(data, [4, 1]))
    assert output.lengths.tolist() == [3, 1]
    assert output.data.flatten().tolist() == [5.0, 2.0, 4.0, 3.0, 0.0, 0.0]
    shorter_than_k = KMaxPool1d(3)(Padded(torch.ones(1, 2, 1), [2]))
    assert shorter_than_k.data.shape == (1, 3, 1)
    assert shorter_than_k.lengths.tolist() == [2]


def test_kmax_gradient_reaches_only_the_selected_positions():
    x = torch.tensor([[[1.0], [5.0], [2.0], [4.0]]], requires_grad=True)
    (grad,) = torch.autograd.grad(KMaxPool1d(2)(x).sum(), x)
    assert grad.flatten().tolist() == [0.0, 1.0, 0.0, 1.0]


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("max", [2.0]), ("min", [-3.0]), ("mean", [-0.5]), ("sum", [-1.0]), ("lp", [13**0.5])],
)
def test_global_pool_over_time_uses_valid_steps_only(kind, expected):
    data = torch.tensor([[[2.0], [-3.0], [50.0]]])
    torch.testing.assert_close(
        GlobalPool(kind)(Padded(data, [2])).flatten(), torch.tensor(expected)
    )


def test_global_mean_over_a_spectrogram_divides_by_the_true_size():
    data = torch.ones(1, 2, 3, 5)
    data[..., 2:] = 100.0
    output = GlobalPool("mean")(Padded(data, [2], time_dim=3))
    assert output.tolist() == [[1.0, 1.0]]
    assert GlobalPool("sum")(torch.ones(2, 3, 4, 4, 4)).tolist() == [[64.0] * 3] * 2


@pytest.mark.parametrize(
    ("build", "x", "error", "message"),
    [
        (
            lambda: Pool1d("median"),
            None,
            ValueError,
            r"`kind`: expected one of 'max', 'min', 'mean'",
        ),
        (lambda: Pool1d("max", 0), None, ValueError, r"`kernel_size`: expected a positive integer"),
        (
            lambda: Pool1d("max", 2, ceil_mode=1),
            None,
            TypeError,
            r"`ceil_mode`: expected True or False",
        ),
        (
            lambda: Pool1d("lp", norm_type=0),
            None,
            ValueError,
            r"`norm_type`: expected a positive finite",
        ),
        (
            lambda: Pool2d("max", 3, ceil_mode=False),
            torch.zeros(1, 1, 2, 2),
            ValueError,
            r"leaves at least one window",
        ),
        (lambda: KMaxPool1d(0), None, ValueError, r"`k`: expected a positive integer, got 0"),
        (
            lambda: KMaxPool1d(4),
            torch.zeros(1, 3, 1),
            ValueError,
            r"expected at least k=4 time steps",
        ),
        (
            lambda: GlobalPool(),
            torch.zeros(2, 3),
            ValueError,
            r"expected a tensor \(B, T, C\), \(B, C, H, W\)",
        ),
        (
            lambda: Pool1d("max", 3, ceil_mode=False),
            Padded(torch.zeros(2, 5, 1), [5, 2]),
            ValueError,
            r"batch item 1 of length 2, which gives 0",
        ),
    ],
)
def test_bad_arguments_and_inputs_are_refused(build, x, error, message):
    with pytest.raises(error, match=message):
        layer = build()
        layer(x)
