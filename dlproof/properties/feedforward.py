"""The dense feed-forward networks that the backprop (MLP) and residual chapters share: the activations and
scales their strategies draw, the forward-error model of a dense layer, and `Network` (how one network kind
meets the protocol, the float64 oracle dlproof.derivations.oracle_backprop and the error model).

Error model (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., §3.1, §3.5), written with the
running-error arithmetic of properties.errmodel (an ``E`` carries a float64 value and an entry-wise error bound
for unit roundoff u); u = u_target + u_float64 (`tolerances.u_total`), gamma_k = k u / (1 - k u), evaluated at
the target's declared arithmetic (`tolerances.precision`: the dot products' gamma_k at the accumulation format's u
plus u |z| for the rounding to storage when it accumulates wider, tanh/sigmoid within activation_ulps u):

  z = a W^T + b (+ x I^T) : one dot product per entry (length n + 1, or k + n + 1 with the skip term x), any
                            order, FMA or not: e_z = gamma (|a||W|^T + |b| (+ |x|)) + e_a |W|^T (+ e_x)
  a = phi(z)              : tanh, sigmoid, relu with their own rounding (errmodel.tanh, .sigmoid, .relu)
  phi'(z)                 : written from the output (1 - a^2, a (1 - a)) with its own error; relu' = [z > 0]
                            with error 1 where |z| <= e_z (a kink within the forward error: the full jump).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from dlproof.derivations.oracle_backprop import ACTIVATIONS

from . import diagnose
from . import errmodel as em
from . import finite_difference as fd
from . import tolerances as tol
from .assertions import call

#: the scales of the biases (5 saturates tanh and sigmoid); the weights' and inputs' come from strategies.SCALES
BIAS_SCALES = (0.1, 1.0, 5.0)
ACTIVATION = st.sampled_from(ACTIVATIONS)


# ---- the dense layer's forward-error model ---------------------------------------------------------------------

def underflow(arithmetic, subnormals: str = "gradual") -> tuple:
    """(eta, eta_add) of the model at the declared ``subnormals`` where the drawn values reach the format's underflow
    threshold (`tolerances.NEAR_UNDERFLOW`: float16, smallest normal 6.1e-5; a product of three drawn scales of 0.1
    and a sigmoid' of 1/4 is already subnormal there); elsewhere (0, 0), which leaves those bounds bit for bit."""
    if subnormals not in ("gradual", "flush_to_zero"):
        raise ValueError(f"underflow: subnormals={subnormals!r}, but should be 'gradual' or 'flush_to_zero'")
    near = getattr(arithmetic, "range_format", arithmetic) in tol.NEAR_UNDERFLOW
    return tol.underflow_terms(arithmetic, subnormals if near else None)


def exact(v, arithmetic, subnormals: str = "gradual") -> em.E:
    """``v`` as an input the target receives exactly, in the error model of ``arithmetic`` (a
    `tolerances.Arithmetic` or a dtype name: `tolerances.exact_in`) with the underflow terms of `underflow`."""
    return tol.exact_in(arithmetic, underflow(arithmetic, subnormals))(v)


def dphi(activation: str, z: em.E, a: em.E) -> em.E:
    """phi'(z) from the layer's output a = phi(z) (tanh: 1 - a^2, sigmoid: a (1 - a)); relu: [z > 0]."""
    if activation == "tanh":
        return 1 - a * a
    if activation == "sigmoid":
        return a * (1 - a)
    return em.heaviside(z)


def phi(activation: str, z: em.E) -> em.E:
    """The activation with its rounding."""
    return {"tanh": em.tanh, "sigmoid": em.sigmoid, "relu": em.relu}[activation](z)


def affine(a: em.E, W: em.E, b: em.E, extra: em.E | None = None) -> em.E:
    """a @ W.T + b (+ extra, entering as extra @ I^T): one dot product per entry, order-free bound."""
    B = a.v.shape[0]
    if extra is None:
        extra = a._E(np.zeros((B, 0)), None)
        I = a._E(np.zeros((W.v.shape[0], 0)), None)
    else:
        I = a._E(np.eye(extra.v.shape[1]), None)
    return em.affine(a, W, extra, I, b)


# ---- a network kind and its shared checks ------------------------------------------------------------------------

@dataclass(frozen=True)
class Network:
    """How one feed-forward network kind meets the protocol, the oracle and the error model.

    The parameters of a drawn problem are the arrays ``keys(problem)`` (after "x"), grouped per layer by
    ``params(problem)``: [(W_l, b_l), ...] (MLP) or [(W1, b1, W2, b2), ...] (residual); the VJP returns
    {"x": dx, ``grads``: [per-layer tuples in the same order]}.
    """

    capability: str           # the forward capability: "mlp" or "residual" (the VJP's: + "_vjp")
    grads: str                # the key of the per-layer gradients in the VJP's dict: "layers" or "blocks"
    grad_names: tuple         # the names of one layer's gradients: ("dW", "db") or ("dW1", "db1", "dW2", "db2")
    params: Callable          # problem -> the per-layer parameter tuples
    keys: Callable            # problem -> the parameter arrays' names, in the order of `params`
    run: Callable             # (target, chk, problem) -> the target's forward y, validated
    oracle_forward: Callable  # (x, params, activation) -> y
    oracle_vjp: Callable      # (x, params, activation, dy) -> {"x", grads}
    forward_tol: Callable     # (x, params, activation, arithmetic, subnormals) -> entry-wise tolerance of y
    preacts: Callable         # problem -> every hidden pre-activation, flat (relu's kinks)

    def reference(self, target, problem):
        """(the oracle's forward, its tolerance for the target's precision) on this example."""
        args = (problem["x"], self.params(problem), problem["activation"])
        return self.oracle_forward(*args), self.forward_tol(*args, tol.precision(target), tol.underflow(target))

    def forward_wrong(self, target, chk, problem) -> bool:
        """Whether the target's own forward misses the oracle on this example (False when it cannot tell)."""
        return diagnose.own_forward_wrong(target, self.capability, lambda: self.run(target, chk, problem),
                                          lambda: self.reference(target, problem))

    def vjp(self, target, chk, problem, dy=None) -> dict:
        """The target's VJP at the problem's cotangent (or ``dy``), its structure checked:
        {"x": dx, ``grads``: [one tuple of ``grad_names`` per layer]}."""
        cap, key, params = f"{self.capability}_vjp", self.grads, self.params(problem)
        out = call(target, cap, problem["x"], params, problem["activation"], problem["dy"] if dy is None else dy)
        chk.holds(f"{cap}(...)", isinstance(out, dict) and "x" in out and key in out,
                  f"returned {type(out).__name__} {sorted(out) if isinstance(out, dict) else ''}, but should be a "
                  f"dict with keys 'x' and '{key}'")
        grads = out[key]
        chk.holds(f"{cap}(...)['{key}']", isinstance(grads, (list, tuple)) and len(grads) == len(params)
                  and all(isinstance(g, (list, tuple)) and len(g) == len(self.grad_names) for g in grads),
                  f"is {type(grads).__name__} of length {len(grads) if hasattr(grads, '__len__') else '?'}, but "
                  f"should be a list of {len(params)} ({', '.join(self.grad_names)}) tuples")
        return out

    def check_forward(self, target, chk, problem, hint: Callable, where: str) -> None:
        """The target's forward vs the oracle (part "forward"); ``hint(target, chk, problem, y)`` names a
        catalogued bug first."""
        with diagnose.blame("forward"):
            y = self.run(target, chk, problem)
            hint(target, chk, problem, y.astype(np.float64))
            expected, t = self.reference(target, problem)
            chk.close(f"y {where}", y, expected, t)

    def flat(self, problem) -> np.ndarray:
        """θ: x and every parameter, raveled in order, float64."""
        return np.concatenate([np.ravel(problem[k]) for k in ["x", *self.keys(problem)]]).astype(np.float64)

    def unflat(self, problem, theta):
        """The problem with x and the parameters taken from the flat ``theta``."""
        arrays = dict(problem.arrays)
        i = 0
        for k in ["x", *self.keys(problem)]:
            n = problem[k].size
            arrays[k] = theta[i:i + n].reshape(problem[k].shape)
            i += n
        return type(problem)(arrays, dict(problem.scalars))

    def flat_grads(self, g) -> np.ndarray:
        """A VJP's dict raveled in the order of `flat`."""
        return np.concatenate([np.ravel(g["x"])] + [np.ravel(a) for p in g[self.grads] for a in p])

    def check_oracle_fd(self, problem, chk) -> None:
        """The oracle's own gradient along the drawn direction vs float64 central differences of L = <dy, y>
        (finite_difference.check_oracle); relu examples within 1e-3 of a kink at the points are rejected."""
        theta = self.flat(problem)
        v = np.asarray(problem["direction"], np.float64)
        v = v / np.linalg.norm(v)
        act, dy = problem["activation"], problem["dy"]
        exact = float(self.flat_grads(self.oracle_vjp(problem["x"], self.params(problem), act, dy)) @ v)
        if act == "relu":
            eps = fd.oracle_step(theta)
            for s in (1, -1, 0.5, -0.5):  # stay away from the kink
                assume(np.min(np.abs(self.preacts(self.unflat(problem, theta + s * eps * v)))) > 1e-3)

        def loss(th):
            r = self.unflat(problem, th)
            return float(np.sum(dy * self.oracle_forward(r["x"], self.params(r), act)))

        t_y = self.forward_tol(problem["x"], self.params(problem), act, "float64")
        y = self.oracle_forward(problem["x"], self.params(problem), act)
        E_L = float(np.sum(np.abs(dy) * (t_y + 4 * tol.UNIT_ROUNDOFF["float64"] * np.abs(y))))
        fd.check_oracle(chk, exact, loss, theta, v, E_L)
