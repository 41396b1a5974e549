"""Broken MLPs (z^l = W^l a^(l-1) + b^l, a^l = phi(z^l), the last layer linear; layers [(W (out, in), b)]), each
the NumPy reference with one bug."""
from __future__ import annotations

from dlproof.impl.numpy_ref import backprop as NM

from mutants.base import Mutant, code_mutant


def mlp_vjp_bug(kind: str):
    """mlp_vjp with one backprop bug, over the NumPy forward states: "no_dphi" (diag(phi') dropped),
    "phi_not_dphi" (phi where phi' belongs), "transposed" (dW^T), "a_l" (dW from a^l instead of a^{l-1})."""
    def vjp(x, layers, activation, dy):
        zs, acts = NM._forward(x, layers, activation, x.dtype)
        f = NM._PHI[activation]
        delta, grads = dy.copy(), [None] * len(layers)
        for l in range(len(layers), 0, -1):
            W = layers[l - 1][0]
            a_in = acts[l] if kind == "a_l" else acts[l - 1]
            dW = delta.T @ a_in
            grads[l - 1] = (dW.T.copy() if kind == "transposed" else dW, delta.sum(0))
            back = delta @ W
            if l > 1:
                if kind == "no_dphi":
                    delta = back
                elif kind == "phi_not_dphi":
                    delta = f(zs[l - 2]) * back
                else:
                    delta = NM.dphi(activation, zs[l - 2], acts[l - 1]) * back
        return {"x": back, "layers": grads}
    return vjp


def mlp_last_activated(x, layers, activation):
    """The activation applied to the last (linear) layer too."""
    return NM._PHI[activation](NM.mlp(x, layers, activation))


MUTANTS: dict[str, Mutant] = {
    "mlp_backward_without_dphi": code_mutant("MLP backward without diag(phi')", mlp_vjp=mlp_vjp_bug("no_dphi")),
    "mlp_backward_phi_for_dphi": code_mutant("MLP backward with phi where phi' belongs",
                                             mlp_vjp=mlp_vjp_bug("phi_not_dphi")),
    "mlp_dW_transposed": code_mutant("MLP weight gradient transposed", mlp_vjp=mlp_vjp_bug("transposed")),
    "mlp_dW_from_own_output": code_mutant("MLP dW^l from a^l instead of a^(l-1)", mlp_vjp=mlp_vjp_bug("a_l")),
    "mlp_last_layer_activated": code_mutant("MLP applies the activation to the last layer", mlp=mlp_last_activated),
}
