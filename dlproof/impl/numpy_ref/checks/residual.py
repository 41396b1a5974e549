"""Validation of the residual calls (residual, residual_vjp): blocks (W1, b1, W2, b2) that keep the width."""
from __future__ import annotations

import numpy as np

from .backprop import activation, array, layer_entry, layer_list
from .common import fail


def residual_args(fn: str, x, blocks, act):
    """Validated (x (B, n), [(W1 (k, n), b1 (k,), W2 (n, k), b2 (n,))], activation, dtype)."""
    act = activation(fn, act)
    x = array(fn, "x", x, 2, "(B, n)")
    layer_list(fn, "blocks", blocks, "(W1, b1, W2, b2)")
    n, out = x.shape[1], []
    for i, entry in enumerate(blocks):
        layer_entry(fn, "blocks", i, entry, 4, "(W1, b1, W2, b2)")
        W1 = array(fn, f"blocks[{i}][0]", entry[0], 2, "(k, n)")
        if W1.shape[1] != n:
            fail(fn, f"argument 'blocks[{i}][0]' (W1) should have shape (k, {n}) with {n} = x.shape[1], got {W1.shape}")
        k = W1.shape[0]
        b1 = array(fn, f"blocks[{i}][1]", entry[1], 1, "(k,)")
        if b1.shape != (k,):
            fail(fn, f"argument 'blocks[{i}][1]' (b1) should have shape ({k},) = (W1.shape[0],), got {b1.shape}")
        W2 = array(fn, f"blocks[{i}][2]", entry[2], 2, "(n, k)")
        if W2.shape != (n, k):
            fail(fn, f"argument 'blocks[{i}][2]' (W2) should have shape ({n}, {k}) = (x.shape[1], W1.shape[0]) (the "
                     f"skip connection needs the block to keep the width), got {W2.shape}")
        b2 = array(fn, f"blocks[{i}][3]", entry[3], 1, "(n,)")
        if b2.shape != (n,):
            fail(fn, f"argument 'blocks[{i}][3]' (b2) should have shape ({n},) = (x.shape[1],), got {b2.shape}")
        out.append((W1, b1, W2, b2))
    dtype = np.result_type(x, *[a for p in out for a in p])
    return x, out, act, dtype
