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


@triton.jit
def load_peepholes(
    peephole, direction, hidden, dtype, PEEPHOLE: tl.constexpr, BLOCK_H: tl.constexpr
):
    """``p_i, p_f, p_o`` of one direction, ``(BLOCK_H,)`` each; zeros without peepholes."""
    units = tl.arange(0, BLOCK_H)
    p_i = tl.zeros((BLOCK_H,), dtype=dtype)
    p_f = tl.zeros((BLOCK_H,), dtype=dtype)
    p_o = tl.zeros((BLOCK_H,), dtype=dtype)
    if PEEPHOLE:
        diagonal = peephole + direction * 3 * hidden + units
        p_i = tl.load(diagonal, mask=units < hidden, other=0.0)
        p_f = tl.load(diagonal + hidden, mask=units < hidden, other=0.0)
        p_o = tl.load(diagonal + 2 * hidden, mask=units < hidden, other=0.0)
    return p_i, p_f, p_o


@triton.jit
def lstm_forward(
    projected,  # (D, T, B, 4H): W_ih x_t + b, gates (i, f, g, o)
    weight_hh,  # (D, 4H, H)
    peephole,  # (D, 3H): p_i, p_f, p_o (read only if PEEPHOLE)
    h0,  # (D, B, H)
    c0,  # (D, B, H)
    keep,  # (D, B, H)
    lengths,  # (B,)
    hs,  # (D, T + 1, B, H), out: h_0 .. h_T
    cs,  # (D, T + 1, B, H), out: C_0 .. C_T
    gates,  # (D, T, B, 4H), out: i, f, C~, o
    steps,
    batch,
    hidden,
    PEEPHOLE: tl.constexpr,
    BLOCK_B: tl.constexpr,
    BLOCK_H: tl.constexpr,
):
    direction = tl.program_id(0)
    rows = tl.program_id(1) * BLOCK_B + tl.arange(0, BLOCK_B)
    units = tl.arange(0, BLOCK_H)
    inside = (rows[:, None] < batch) & (units[None, :] < hidden)
    state = direction * batch * hidden + rows[:, None] * hidden + units[None, :]
    h = tl.load(h0 + state, mask=inside, other=0.0)
    c = tl.load(c0 + state, mask=inside, other=0.0)
    mask = tl.load(keep + state, mask=inside, other=0.0)
    length = tl.load(lengths + rows, mask=rows < batch, other=0)
    first = (direction * (steps + 1) * batch + rows[:, None]) * hidden + units[None, :]
    tl.store(hs + first, h, mask=inside)
    tl.store(cs + first, c, mask=inside)
    weights = weight_hh + direction * 4 * hidden * hidden
    p_i, p_f, p_o = load_peepholes(peephole, direction, hidden, h.dtype, PEEPHOLE, BLOCK_H)
    for t in range(steps):
        gate_row = ((direction * steps + t) * batch + rows[:, None]) * 4 * hidden + units[None, :]
        h_in = h * mask
        a_i = tl.load(projected + gate_row, mask=inside, other=0.0)
        a_i += tl.dot(h_in, load_tile(weights, 0, hidden, BLOCK_H, True), input_precision="ieee")
        a_f = tl.load(projected + gate_row + hidden, mask=inside, other=0.0)
        a_f += tl.dot(h_in, load_tile(weights, 1, hidden, BLOCK_H, True), input_precision="ieee")
        a_g = tl.load(projected + gate_row + 2 * hidden, mask=inside, other=0.0)
        a_g += tl.dot(h_in, load_tile(weights, 2, hidden, BLOCK_H, True), input_precision="ieee")
        a_o = tl.load(projected + gate_row + 3 * hidden, mask=inside, other=0.0)
        a_o += tl.dot(h_in, load_tile(weights, 3, hidden, BLOCK_H, True), input_precision="ieee")
        i = sigmoid(a_i + p_i[None, :] * c)
        f = sigmoid(a_f + p_f[None, :] * c)
        candidate = tanh(a_g)
        c_new = f * c + i * candidate
        o = sigmoid(a_o + p_o[None, :] * c_new)
        h_new = o * tanh(c_new)
        running = (t < length)[:, None]
        h = tl.where(running, h_new, h)
        c = tl.where(running, c_new, c)
        after = ((direction * (steps + 1) + t + 1) * batch + rows[:, None]) * hidden
        tl.store(hs + after + units[None, :], h, mask=inside)
        tl.store(cs + after + units[None, :], c, mask=inside)
        tl.store(gates + gate_row, i, mask=inside)
        tl.store(gates + gate_row + hidden, f, mask=inside)
        tl.store(gates + gate_row + 2 * hidden, candidate, mask=inside)
        tl.store(gates + gate_row + 3 * hidden, o, mask=inside)


@triton.jit
def lstm_backward(
    d_hs,  # (D, T + 1, B, H): dL/dh_t from the outputs and the final state
    d_cs,  # (D, T + 1, B, H): dL/dC_t from the final state
    weight_hh,  # (D, 4H, H)
    peephole,  # (D, 3H)
    keep,  # (D, B, H)
    lengths,  # (B,)
    cs,  # (D, T + 1, B, H)
    gates,  # (D, T, B, 4H)
    d_gates,  # (D, T, B, 4H), out: da_i, da_f, da_g, da_o (zero past a length)
    d_h0,  # (D, B, H), out
    d_c0,  # (D, B, H), out
    steps,
    batch,
    hidden,
    PEEPHOLE: tl.constexpr,
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
    weights = weight_hh + direction * 4 * hidden * hidden
    p_i, p_f, p_o = load_peepholes(peephole, direction, hidden, mask.dtype, PEEPHOLE, BLOCK_H)
    carry_h = tl.zeros((BLOCK_B, BLOCK_H), dtype=mask.dtype)
    last = ((direction * (steps + 1) + steps) * batch + rows[:, None]) * hidden + units[None, :]
    carry_c = tl.load(d_cs + last, mask=inside, other=0.0)
    for back in range(steps):
        t = steps - 1 - back
        after = ((direction * (steps + 1) + t + 1) * batch + rows[:, None]) * hidden
        after += units[None, :]
        before = after - batch * hidden
        dh = carry_h + tl.load(d_hs + after, mask=inside, other=0.0)
        c_new = tl.load(cs + after, mask=inside, other=0.0)
        c = tl.load(cs + before, mask=inside, other=0.0)
        gate_row = ((direction * steps + t) * batch + rows[:, None]) * 4 * hidden + units[None, :]
        i = tl.load(gates + gate_row, mask=inside, other=0.0)
        f = tl.load(gates + gate_row + hidden, mask=inside, other=0.0)
        candidate = tl.load(gates + gate_row + 2 * hidden, mask=inside, other=0.0)
        o = tl.load(gates + gate_row + 3 * hidden, mask=inside, other=0.0)
        running = (t < length)[:, None]
        squashed = tanh(c_new)
        da_o = tl.where(running, dh * squashed * o * (1 - o), 0.0)
        dc = carry_c + dh * o * (1 - squashed * squashed) + da_o * p_o[None, :]
        da_i = tl.where(running, dc * candidate * i * (1 - i), 0.0)
        da_f = tl.where(running, dc * c * f * (1 - f), 0.0)
        da_g = tl.where(running, dc * i * (1 - candidate * candidate), 0.0)
        d_in = tl.dot(da_i, load_tile(weights, 0, hidden, BLOCK_H, False), input_precision="ieee")
        d_in += tl.dot(da_f, load_tile(weights, 1, hidden, BLOCK_H, False), input_precision="ieee")
        d_in += tl.dot(da_g, load_tile(weights, 2, hidden, BLOCK_H, False), input_precision="ieee")
        d_in += tl.dot(da_o, load_tile(weights, 3, hidden, BLOCK_H, False), input_precision="ieee")
        carry_h = tl.where(running, d_in * mask, dh)
        carry_c = tl.where(running, dc * f + da_i * p_i[None, :] + da_f * p_f[None, :], carry_c)
        tl.store(d_gates + gate_row, da_i, mask=inside)
        tl.store(d_gates + gate_row + hidden, da_f, mask=inside)
        tl.store(d_gates + gate_row + 2 * hidden, da_g, mask=inside)
        tl.store(d_gates + gate_row + 3 * hidden, da_o, mask=inside)
    tl.store(d_h0 + state, carry_h, mask=inside)
    tl.store(d_c0 + state, carry_c, mask=inside)
