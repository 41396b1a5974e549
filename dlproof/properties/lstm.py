"""Properties of the LSTM (gate order i, f, g, o; c' = f c + i g, h' = o tanh(c')) against its oracle.

Oracle: dlproof.derivations.oracle_lstm (kernels printed from proved compact formulas), float64.
"""
from __future__ import annotations

import numpy as np

from dlproof.derivations import oracle_lstm as oracle
from dlproof.dtypes import DTYPES
from dlproof.parameters import LSTM_PARAMS

from . import tolerances as tol
from .assertions import call
from .registry import prop
from .sequence import SeqModel, register, state_jacobian
from .strategies import gated_problems


def _strategy(target, **kw):
    return gated_problems("lstm", **{"dtype": target.dtype, **kw})


LSTM = SeqModel(
    kind="lstm", params=LSTM_PARAMS, states=("h0", "c0"), final_cots=("d_hT", "d_cT"), strategy=_strategy,
    convention=lambda t: None,
    oracle_forward=lambda xs, h0, c0, p, conv: oracle.lstm_forward(xs, h0, c0, p),
    oracle_vjp=lambda xs, h0, c0, p, d_hs, d_hT, d_cT, conv: oracle.lstm_vjp(xs, h0, c0, p, d_hs, d_hT, d_cT),
    forward_tol=lambda xs, h0, c0, p, conv, dtype: tol.lstm_forward_tol(xs, h0, c0, p, dtype),
    vjp_tol=lambda xs, h0, c0, p, d_hs, d_hT, d_cT, conv, dtype: tol.lstm_vjp_tol(xs, h0, c0, p, d_hs, d_hT, d_cT, dtype),
    derivations_forward=("lstm.cell.forward",),
    derivations_vjp=("lstm.cell.jacobian_weights", "lstm.cell.jacobian_h", "lstm.cell.jacobian_x", "lstm.cell.jacobian_c",
                     "lstm.state.chain"))


def _cell(target, chk, x, states, p):
    out = call(target, "lstm_cell", x, states[0], states[1], p)
    chk.holds("lstm_cell(x, h, c, p)", isinstance(out, tuple) and len(out) == 2,
              f"returned {type(out).__name__}, but should be a tuple (h', c')")
    return out


register(LSTM, cell_call=_cell, cell_derivations=("lstm.cell.forward", "lstm.gate.partials"))


@prop("lstm.state.jacobian_product", title="d(h_T, c_T)/d(h_0, c_0) of the target equals the product of 2n x 2n state Jacobians",
      capabilities=("lstm_vjp",), derivations=("lstm.state.chain", "lstm.state.jacobian", "lstm.state.chain_not_blockwise"),
      strategy=lambda t: _strategy(t, max_n=3, max_T=3), precisions=DTYPES)
def state_jacobian_product(target, problem, chk):
    xs, h0, c0, p = LSTM.args(problem)
    J, t = state_jacobian(LSTM, target, chk, xs, (h0, c0), p, None)
    chk.close("d(h_T, c_T)/d(h_0, c_0)", J.astype(target.dtype), oracle.lstm_chain(xs, h0, c0, p, 0, xs.shape[0]), t)


@prop("lstm.cec.product", title="with no path through h (W_h* = 0), dc_T/dc_0 = prod_t diag(f_t) on the target",
      capabilities=("lstm_vjp",), derivations=("lstm.cec.product",), strategy=lambda t: _strategy(t, max_n=3),
      precisions=DTYPES)
def cec_product(target, problem, chk):
    p = {k: (np.zeros_like(v) if k.startswith("W_h") else v) for k, v in LSTM.p(problem).items()}
    xs, h0, c0 = problem["xs"], problem["h0"], problem["c0"]
    n = h0.shape[1]
    J, t = state_jacobian(LSTM, target, chk, xs, (h0, c0), p, None)
    x64 = np.asarray(xs, np.float64)
    f = 0.5 * (1 + np.tanh(0.5 * (x64 @ np.asarray(p["W_xf"], np.float64).T + np.asarray(p["b_f"], np.float64))))
    expected = np.eye(n)[None] * np.prod(f, axis=0)[:, :, None]  # diag(prod_t f_t) per batch row
    chk.close("dc_T/dc_0 (h held out of the path)", J[:, n:, n:].astype(target.dtype), expected, t[:, n:, n:])


from .restrictions import kind_supported  # noqa: E402 - the kinds a target declares for param_count


@prop("lstm.param_count", title="LSTM parameters 4(nm + n^2 + n) (one bias) or 4(nm + n^2 + 2n) (two)",
      capabilities=("param_count",), derivations=("lstm.param_count",), strategy=lambda t: _strategy(t, max_T=1),
      applies=lambda t: kind_supported(t, "lstm"), precisions=DTYPES)
def param_count(target, problem, chk):
    n, m = problem["n"], problem["m"]
    got = call(target, "param_count", "lstm", n, m)
    nb = 1 if target.bias_layout("lstm") == "one" else 2
    expected = 4 * (n * m + n * n + nb * n)
    chk.holds("param_count('lstm', n, m)", isinstance(got, (int, np.integer)) and int(got) == expected,
              f"param_count('lstm', {n}, {m}) = {got!r}, but should be {expected} (bias={target.bias_layout('lstm')})")
