"""The parameter names of the recurrent cells, declared once (the protocol's "Parameter names").

A cell computes ``x @ W_x.T + h @ W_h.T + b`` on batch rows x (B, m), h (B, n), in column-vector math
``W_x x + W_h h + b`` with weights ``W_x* (n, m)``, ``W_h* (n, n)`` and biases ``b_* (n,)``. The names are
those of the gates, in the protocol's order:

- RNN: one unnamed block, ``W_x, W_h, b``;
- LSTM, gates i, f, g, o: ``W_xi, W_hi, b_i, W_xf, W_hf, b_f, W_xg, W_hg, b_g, W_xo, W_ho, b_o`` (gate by gate);
- GRU, gates r, z, n: ``W_xr, W_hr, b_r, W_xz, W_hz, b_z, W_xn, W_hn, b_xn, b_hn``; the candidate n keeps its
  two biases apart (``b_xn`` on the input side, ``b_hn`` on the recurrent side, inside the reset of
  reset-after), so its block's bias is ``b_xn`` and ``b_hn`` follows the blocks;
- peephole LSTM (ONNX): the LSTM's 12, then the peepholes ``p_i, p_f, p_o (n,)`` of gates i, f, o.

This module is a leaf of the protocol layer: it imports nothing of dlproof, and every layer may import it.
"""
from __future__ import annotations

#: the kinds of recurrent cell that have a sequence, a VJP and a bidirectional layer
KINDS = ("rnn", "lstm", "gru")
#: the gate letters of each kind in the protocol's order ("": the vanilla RNN's one unnamed block)
GATES = {"rnn": ("",), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}
LSTM_GATES = GATES["lstm"]
GRU_GATES = GATES["gru"]
#: the gates of the peephole LSTM that look at the cell state
PEEPHOLE_GATES = ("i", "f", "o")


def block(kind: str, gate: str) -> tuple[str, str, str]:
    """(input weight W_x*, recurrent weight W_h*, bias b_*) of one gate of ``kind``; GRU's candidate n: b_xn."""
    if kind == "rnn":
        return "W_x", "W_h", "b"
    bias = "b_xn" if (kind, gate) == ("gru", "n") else f"b_{gate}"
    return f"W_x{gate}", f"W_h{gate}", bias


#: per kind, one (W_x*, W_h*, b_*) triple per gate, in gate order (the row blocks of stacked weights)
BLOCKS = {kind: tuple(block(kind, g) for g in gates) for kind, gates in GATES.items()}
#: the GRU candidate's recurrent-side bias, the one name outside the gate blocks
GRU_HIDDEN_BIAS = "b_hn"
#: the parameter names of one layer of each kind, in protocol order
PARAMS = {kind: tuple(name for triple in BLOCKS[kind] for name in triple)
          + ((GRU_HIDDEN_BIAS,) if kind == "gru" else ()) for kind in KINDS}
RNN_PARAMS = PARAMS["rnn"]
LSTM_PARAMS = PARAMS["lstm"]
GRU_PARAMS = PARAMS["gru"]
#: the peephole weights (n,), named by their gate
PEEPHOLES = tuple(f"p_{g}" for g in PEEPHOLE_GATES)
#: the peephole LSTM's parameters: the LSTM cell's 12, then the peepholes
PEEPHOLE_PARAMS = LSTM_PARAMS + PEEPHOLES

__all__ = ["KINDS", "GATES", "LSTM_GATES", "GRU_GATES", "PEEPHOLE_GATES", "block", "BLOCKS", "GRU_HIDDEN_BIAS",
           "PARAMS", "RNN_PARAMS", "LSTM_PARAMS", "GRU_PARAMS", "PEEPHOLES", "PEEPHOLE_PARAMS"]
