"""Triton kernels of :mod:`convrec.nn.triton_scan` (this module imports Triton; nothing imports
it unless a scan runs on a GPU or under ``TRITON_INTERPRET=1``)."""

# ruff: noqa: N803

import triton
import triton.language as tl


@triton.jit
def sigmoid(a):
    return 1 / (1 + tl.exp(-a))


@triton.jit
def tanh(a):
    return 2 * sigmoid(2 * a) - 1


@triton.jit
def load_tile(base, gate, hidden, BLOCK_H: tl.constexpr, TRANSPOSE: tl.constexpr):
    """Gate ``gate``'s block of ``W_hh`` (``(H, H)``, row ``j`` for unit ``j``), as
    ``W^T`` (``[k, j]``) for the forward or ``W`` (``[j, k]``) for the backward."""
    a = tl.arange(0, BLOCK_H)
    inside = (a[:, None] < hidden) & (a[None, :] < hidden)
    if TRANSPOSE:
        offsets = (gate * hidden + a[None, :]) * hidden + a[:, None]
    else:
        offsets = (gate * hidden + a[:, None]) * hidden + a[None, :]
    return tl.load(base + offsets, mask=inside, other=0.0)


@triton.jit
def gru_forward(
    projected,  # (D, T, B, 3H): W_ih x_t + b
    weight_hh,  # (D, 3H, H)
    h0,  # (D, B, H)
    keep,  # (D, B, H)
    lengths,  # (B,)
    hs,  # (D, T + 1, B, H), out: h_0 .. h_T
    gates,  # (D, T, B, 3H), out: r, z, h~
    steps,
    batch,
    hidden,
    BLOCK_B: tl.constexpr,
    BLOCK_H: tl.constexpr,
):
    direction = tl.program_id(0)
    rows = tl.program_id(1) * BLOCK_B + tl.arange(0, BLOCK_B)
    units = tl.arange(0, BLOCK_H)
    inside = (rows[:, None] < batch) & (units[None, :] < hidden)
    state = direction * batch * hidden + rows[:, None] * hidden + units[None, :]
    h = tl.load(h0 + state, mask=inside, other=0.0)
    mask = tl.load(keep + state, mask=inside, other=0.0)
    length = tl.load(lengths + rows, mask=rows < batch, other=0)
    tl.store(
        hs + direction * (steps + 1) * batch * hidden + rows[:, None] * hidden + units[None, :],
        h,
        mask=inside,
    )
    weights = weight_hh + direction * 3 * hidden * hidden
    for t in range(steps):
        step = (direction * steps + t) * batch
        gate_row = (step + rows[:, None]) * 3 * hidden + units[None, :]
        x_r = tl.load(projected + gate_row, mask=inside, other=0.0)
        x_z = tl.load(projected + gate_row + hidden, mask=inside, other=0.0)
        x_n = tl.load(projected + gate_row + 2 * hidden, mask=inside, other=0.0)
        h_in = h * mask
        r = sigmoid(
            x_r + tl.dot(h_in, load_tile(weights, 0, hidden, BLOCK_H, True), input_precision="ieee")
        )
        z = sigmoid(
            x_z + tl.dot(h_in, load_tile(weights, 1, hidden, BLOCK_H, True), input_precision="ieee")
        )
        n = tanh(
            x_n
            + tl.dot(r * h_in, load_tile(weights, 2, hidden, BLOCK_H, True), input_precision="ieee")
        )
        updated = (1 - z) * h_in + z * n
        h = tl.where((t < length)[:, None], updated, h)
        after = ((direction * (steps + 1) + t + 1) * batch + rows[:, None]) * hidden
        tl.store(hs + after + units[None, :], h, mask=inside)
        tl.store(gates + gate_row, r, mask=inside)
        tl.store(gates + gate_row + hidden, z, mask=inside)
        tl.store(gates + gate_row + 2 * hidden, n, mask=inside)


@triton.jit
def gru_backward(
    d_hs,  # (D, T + 1, B, H): dL/dh_t from the outputs and the final state
    weight_hh,  # (D, 3H, H)
    keep,  # (D, B, H)
    lengths,  # (B,)
    hs,  # (D, T + 1, B, H)
    gates,  # (D, T, B, 3H)
    d_gates,  # (D, T, B, 3H), out: da_r, da_z, da_n (zero past a length)
    d_h0,  # (D, B, H), out
    steps,
    batch,
    hidden,
    BLOCK_B: tl.constexpr,
    BLOCK_H: tl.constexpr,
):
    direction = tl.program_id(0)
    rows = tl.program_id(1) * BLOCK_B + tl.arange(0, BLOCK_B)
    units = tl.arange(0, BLOCK_H)
    inside = (rows[:, None] < batch) & (units[None, :] < hidden)
    state = direction * batch * hidden + rows[:, None] * hidden + units[None, :]
    mask = tl.load(keep + state, mask=inside, other=0.0)
    length = tl.load(lengths + rows, mask=rows < batch, other=0)
    weights = weight_hh + direction * 3 * hidden * hidden
    carry = tl.zeros((BLOCK_B, BLOCK_H), dtype=tl.float32)
    for back in range(steps):
        t = steps - 1 - back
        after = ((direction * (steps + 1) + t + 1) * batch + rows[:, None]) * hidden
        before = after - batch * hidden
        dh = carry + tl.load(d_hs + after + units[None, :], mask=inside, other=0.0)
        h_in = tl.load(hs + before + units[None, :], mask=inside, other=0.0) * mask
        gate_row = ((direction * steps + t) * batch + rows[:, None]) * 3 * hidden
        gate_row += units[None, :]
        r = tl.load(gates + gate_row, mask=inside, other=0.0)
        z = tl.load(gates + gate_row + hidden, mask=inside, other=0.0)
        n = tl.load(gates + gate_row + 2 * hidden, mask=inside, other=0.0)
        running = (t < length)[:, None]
        da_n = tl.where(running, dh * z * (1 - n * n), 0.0)
        da_z = tl.where(running, dh * (n - h_in) * z * (1 - z), 0.0)
        d_reset_h = tl.dot(
            da_n, load_tile(weights, 2, hidden, BLOCK_H, False), input_precision="ieee"
        )
        da_r = d_reset_h * h_in * r * (1 - r)
        d_in = dh * (1 - z) + d_reset_h * r
        d_in += tl.dot(da_r, load_tile(weights, 0, hidden, BLOCK_H, False), input_precision="ieee")
        d_in += tl.dot(da_z, load_tile(weights, 1, hidden, BLOCK_H, False), input_precision="ieee")
        carry = tl.where(running, d_in * mask, dh)
        tl.store(d_gates + gate_row, da_r, mask=inside)
        tl.store(d_gates + gate_row + hidden, da_z, mask=inside)
        tl.store(d_gates + gate_row + 2 * hidden, da_n, mask=inside)
    tl.store(d_h0 + state, carry, mask=inside)
