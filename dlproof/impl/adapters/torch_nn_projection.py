"""The projected LSTM cell (lstm_proj_cell) through a real torch.nn.LSTM with proj_size (protocol version 1).

Each call builds ``nn.LSTM(input_size=m, hidden_size=n, proj_size=P)`` in the requested dtype, loads the canonical
parameters into it (`torch_nn.to_storage` for the 12 LSTM blocks: weight_ih_l0 (4n, m), weight_hh_l0 (4n, P),
bias_ih_l0 = the canonical biases, bias_hh_l0 = 0; weight_hr_l0 = W_proj (P, n)) and runs ONE time step
(T = 1, time-major, unbatched-free: x as (1, B, m), the state as (h (1, B, P), c (1, B, n))). Its final state
(h_1, c_1) is (h', c'): torch computes c' = f c + i g and h' = W_hr (o tanh c') (torch.nn.LSTM docs).

torch requires 0 < proj_size < hidden_size, so P = n is refused with a ValueError: a target built from this
module must declare the restriction ``projection_size: 'smaller_than_hidden'`` (P < n only).
``param_count(n, m, P)`` is ``sum(p.numel())`` of such a real module (two bias vectors).

Inputs are NumPy arrays, validated as the NumPy reference validates them (numpy_ref.projection.proj_step), never
mutated; outputs are new NumPy arrays of the target's dtype. torch is imported lazily: without it the functions
raise ImportError with the install hint.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..numpy_ref.projection import PROJ, proj_step
from .startup import chapter_capabilities
from .startup import dtype as _dtype
from .startup import tensor as _tensor
from .startup import to_numpy as _out
from .torch_nn import to_storage


def _module(torch, n: int, m: int, P: int, td):
    return torch.nn.LSTM(input_size=m, hidden_size=n, proj_size=P).to(td)


def _size(fn: str, name: str, v) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"{fn}: argument {name!r} should be an integer >= 1, got {v!r}")
    return int(v)


def lstm_proj_cell(x, h, c, p, *, dtype="float64"):
    """One step of nn.LSTM(m, n, proj_size=P): x (B, m), h (B, P), c (B, n) -> (h' (B, P), c' (B, n))."""
    fn = "torch_nn_projection.lstm_proj_cell"
    torch, td, dt = _dtype(fn, dtype)
    x, h, c, params, _ = proj_step(fn, x, h, c, p)
    n, m = params["W_xi"].shape
    P = params[PROJ].shape[0]
    if P >= n:
        raise ValueError(f"{fn}: torch.nn.LSTM needs proj_size < hidden_size, got P = W_proj.shape[0] = {P} and "
                         f"n = {n} (a torch.nn target declares the restriction projection_size: 'smaller_than_hidden')")
    mod = _module(torch, n, m, P, td)
    with torch.no_grad():
        for key, value in to_storage("lstm", params).items():
            getattr(mod, f"{key}_l0").copy_(_tensor(torch, value, td))
        mod.weight_hr_l0.copy_(_tensor(torch, params[PROJ], td))
        with warnings.catch_warnings():  # torch's note that oneDNN has no projection (it falls back), not a defect
            warnings.filterwarnings("ignore", message="LSTM with projections is not supported with oneDNN")
            _, (h_new, c_new) = mod(_tensor(torch, x, td)[None], (_tensor(torch, h, td)[None], _tensor(torch, c, td)[None]))
    return _out(h_new[0], dt), _out(c_new[0], dt)


def param_count(n: int, m: int, P: int) -> int:
    """sum(p.numel()) of a real nn.LSTM(input_size=m, hidden_size=n, proj_size=P) (1 <= P < n; two biases)."""
    fn = "torch_nn_projection.param_count"
    n, m, P = (_size(fn, k, v) for k, v in (("n", n), ("m", m), ("P", P)))
    if P >= n:
        raise ValueError(f"{fn}: torch.nn.LSTM needs proj_size < hidden_size, got P = {P}, n = {n}")
    torch, td, _ = _dtype(fn, "float64")
    return int(sum(q.numel() for q in _module(torch, n, m, P, td).parameters()))


def capabilities(dtype: str = "float64") -> dict:
    """{"lstm_proj_cell"} bound to ``dtype``, for a Target."""
    _dtype("torch_nn_projection.capabilities", dtype)
    return chapter_capabilities(globals(), "projection", dtype)
