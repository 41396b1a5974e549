"""flax.linen LSTMCell and GRUCell called through ``jax.jit`` the way flax's docs show: a jit-per-call JAX target.

Each capability runs ``jax.jit(module.apply)`` on the exact shapes it is given, nothing padded or bucketed:
cells ``jax.jit(nn.LSTMCell(features=n).apply)(variables, carry, x)``, sequences
``jax.jit(nn.RNN(cell, time_major=True, return_carry=True).apply)(variables, xs, initial_carry=carry)``, gradients
``jax.jit(jax.grad(loss))`` of L = <d_hs, hs> + <d_hT, h_T> (+ <d_cT, c_T>) over that RNN. So XLA compiles once
per new input shape (one jitted function per cell size n, as a user who builds the module once per size writes).
This is what the bounded-shapes setting is for (dlproof/properties/shapes.py): `target` draws freely (one compile
per drawn shape), `bounded_target` declares ``shapes="bounded"`` (at most 4 shape tuples per property).

Params: the canonical names (column vectors, numerator layout; x @ W_x.T + h @ W_h.T + b on batch rows)
mapped to flax's tree by `dlproof.impl.adapters.flax_linen.to_flax` / `from_flax` (its weight map, checked against
``cell.init`` by ``check_layout``); flax's LSTM carry is (c, h), swapped in and out. float32 (JAX's default).
Conventions: flax_linen's (reset-after GRU, one bias per gate, XLA's flush-to-zero).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from dlproof.impl.adapters import flax_linen
from dlproof.impl.numpy_ref.checks import recurrent as checks
from dlproof.target import Target

CELLS = {"lstm": "LSTMCell", "gru": "GRUCell"}
STATES = {"lstm": ("h", "c"), "gru": ("h",)}


def _carry(kind, states):  # protocol (h[, c]) -> flax carry ((c, h) for the LSTM)
    return (states[1], states[0]) if kind == "lstm" else states[0]


def _states(kind, carry):  # flax carry -> protocol (h[, c])
    return (carry[1], carry[0]) if kind == "lstm" else (carry,)


@lru_cache(maxsize=None)
def _jitted(kind: str, n: int) -> dict:
    """The jitted applies of one cell size: {"cell", "rnn", "grad"} (each compiles per input shape)."""
    jax, jnp, nn = flax_linen._jax()
    cell = getattr(nn, CELLS[kind])(features=n)
    rnn = nn.RNN(cell, time_major=True, return_carry=True)

    def loss(params, xs, carry, d_ys, d_carry):
        carry_T, ys = rnn.apply({"params": {"cell": params}}, xs, initial_carry=carry)
        return jnp.vdot(d_ys, ys) + sum(jnp.vdot(d, s) for d, s in zip(jax.tree.leaves(d_carry),
                                                                        jax.tree.leaves(carry_T)))

    return {"cell": jax.jit(cell.apply), "rnn": jax.jit(rnn.apply),
            "grad": jax.jit(jax.grad(loss, argnums=(0, 1, 2)))}


def _np(tree):
    import jax

    return jax.tree.map(lambda a: np.array(a, dtype=np.float32), tree)


class _Cell:
    """The protocol's capabilities over one flax.linen cell class, jitted per call on the exact shapes."""

    def __init__(self, kind: str):
        self.kind, self.names = kind, flax_linen.PARAMS[kind]

    def _params(self, p: dict, n: int, m: int) -> dict:
        tree = flax_linen.to_flax(self.kind, p)
        flax_linen.check_layout(CELLS[self.kind], tree, n, m)
        return tree

    def _validate(self, fn, x, states, p, step):
        pairs = list(zip(STATES[self.kind] if step else (f"{s}0" for s in STATES[self.kind]), states))
        x, sts, params, _ = (checks.gated_step if step else checks.gated_sequence)(fn, x, pairs, p, self.names)
        if not step and x.shape[0] == 0:
            raise ValueError(f"{fn}: argument 'xs' has T = 0 steps (shape {x.shape}): flax.linen.RNN needs T >= 1")
        n, m = params[self.names[0]].shape
        return x, tuple(sts), self._params(params, n, m), n

    def cell(self, x, *states_and_p):
        *states, p = states_and_p
        x, sts, params, n = self._validate(f"{self.kind}_cell", x, states, p, step=True)
        carry, _ = _jitted(self.kind, n)["cell"]({"params": params}, _carry(self.kind, sts), x)
        out = _np(_states(self.kind, carry))
        return out if self.kind == "lstm" else out[0]

    def forward(self, xs, *states_and_p):
        *states, p = states_and_p
        xs, sts, params, n = self._validate(self.kind, xs, states, p, step=False)
        carry, ys = _jitted(self.kind, n)["rnn"]({"params": {"cell": params}}, xs,
                                                 initial_carry=_carry(self.kind, sts))
        finals = _np(_states(self.kind, carry))
        return _np(ys), (finals if self.kind == "lstm" else finals[0])

    def vjp(self, xs, *args):
        fn = f"{self.kind}_vjp"
        k = len(STATES[self.kind])
        states, p, d_hs, d_hT, d_finals = args[:k], args[k], args[k + 1], args[k + 2], args[k + 3:]
        xs, sts, params, n = self._validate(fn, xs, states, p, step=False)
        T, B, m = xs.shape
        d_hs, d_hT = checks.cotangents(fn, d_hs, d_hT, T, B, n, np.float32)
        d_states = (d_hT, checks.state_cotangent(fn, "d_cT", d_finals[0], B, n, np.float32)) if k == 2 else (d_hT,)
        g_p, g_xs, g_carry = _jitted(self.kind, n)["grad"](params, xs, _carry(self.kind, sts), d_hs,
                                                           _carry(self.kind, d_states))
        out = {"xs": _np(g_xs), **dict(zip(("h0", "c0"), _np(_states(self.kind, g_carry))))}
        out["params"] = flax_linen.from_flax(self.kind, _np(g_p))
        return out


def _target(name: str, **conventions) -> Target:
    flax_linen._jax()  # jax and flax imported now (the compile counter listens from the first property on)
    lstm, gru = _Cell("lstm"), _Cell("gru")
    v = flax_linen.versions()
    return Target(name=f"jax.jit(flax.linen cell.apply) per call{name} (flax {v['flax']}, jax {v['jax']}, float32)",
                  dtype="float32", conventions={**flax_linen.conventions(), **conventions},
                  lstm_cell=lstm.cell, lstm=lstm.forward, lstm_vjp=lstm.vjp,
                  gru_cell=gru.cell, gru=gru.forward, gru_vjp=gru.vjp)


def target() -> Target:
    """LSTMCell and GRUCell: lstm_cell, lstm, lstm_vjp, gru_cell, gru, gru_vjp; sizes drawn freely."""
    return _target("")


def bounded_target() -> Target:
    """`target` declaring ``shapes="bounded"``: each property draws at most 4 shape tuples."""
    return _target(", shapes bounded", shapes="bounded")
