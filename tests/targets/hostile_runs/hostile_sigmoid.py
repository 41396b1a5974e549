"""A correct float64 LSTM cell with the textbook sigmoid 1 / (1 + exp(-z)).

For z < -709.78, exp(-z) overflows to inf with a RuntimeWarning ("overflow encountered in exp") and the
sigmoid is 1/inf = 0: the correctly rounded value (sigmoid(-710) ~ 4e-309 rounds to a subnormal, and
the error bound allows it). The cell is otherwise the protocol's, gate order i, f, g, o:
i, f, o = sigmoid(x W_x*^T + h W_h*^T + b_*), g = tanh(...), c' = f c + i g, h' = o tanh(c').
"""
from dataclasses import replace

import numpy as np

from dlproof.impl.targets import numpy_target


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def lstm_cell(x, h, c, p):
    def pre(g):
        return x @ p[f"W_x{g}"].T + h @ p[f"W_h{g}"].T + p[f"b_{g}"]

    i, f, o = sigmoid(pre("i")), sigmoid(pre("f")), sigmoid(pre("o"))
    g = np.tanh(pre("g"))
    c_new = f * c + i * g
    return o * np.tanh(c_new), c_new


target = replace(numpy_target(), name="textbook sigmoid LSTM cell", lstm_cell=lstm_cell)
