"""torch.nn.Dropout and torch.nn.functional.dropout behind the protocol's dropout capabilities.

- `dropout(x, p, training, seed, *, dtype)`: a fresh ``torch.nn.Dropout(p)`` in ``.train()`` or ``.eval()`` mode;
  `dropout_vjp(x, p, seed, dy, *, dtype)`: the gradient of <dy, y> by torch.autograd through that module in
  training mode.
- `functional_dropout` / `functional_dropout_vjp`: the same through ``torch.nn.functional.dropout(x, p, training)``.

torch draws the mask from its global CPU generator (training: ``bernoulli_(1 - p)``, then ``div_(1 - p)``). Each
call runs inside ``torch.random.fork_rng(devices=[])`` after ``torch.default_generator.manual_seed(seed)``: the same
seed gives the same mask (so dropout_vjp reuses dropout's mask), and the caller's CPU RNG state comes back
unchanged. (Only the CPU generator is seeded: torch.manual_seed would also reseed, and so disturb, the CUDA
generators, which fork_rng(devices=[]) does not restore.) Inference is the identity (torch returns its input
tensor; here a copy). p >= 1 is refused with a ValueError (torch returns zeros; the protocol needs p < 1).

Inputs are NumPy arrays, computed in ``dtype`` ("float32" / "float64") and returned as new NumPy arrays of that
dtype; they are never mutated. torch is imported lazily.
"""
from __future__ import annotations

from contextlib import contextmanager
from functools import partial

from ..numpy_ref.checks import dropout as _dc
from .startup import dtype as _dtype
from .startup import tensor as _tensor
from .startup import to_numpy as _numpy

SEED_LIMIT = 2 ** 64  # torch.Generator.manual_seed


@contextmanager
def _seeded(torch, seed):
    """The caller's RNG state saved, the generator of the current default device seeded with ``seed`` (the CPU
    one, or under ``torch.device("cuda")`` that CUDA device's: impl/adapters/torch_device.py), restored after."""
    device = torch.get_default_device()
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        with torch.random.fork_rng(devices=[index], device_type="cuda"):
            torch.cuda.manual_seed(seed)
            yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        yield


def _module_apply(torch, p, training):
    mod = torch.nn.Dropout(p)
    mod.train(training)
    return mod


def _run(fn, x, p, training, seed, dtype, functional):
    x, p, training, seed = _dc.forward_args(fn, x, p, training, seed, SEED_LIMIT)
    torch, tdt, npdt = _dtype(fn, dtype)
    xt = _tensor(torch, x, tdt)
    with torch.no_grad(), _seeded(torch, seed):
        if functional:
            y = torch.nn.functional.dropout(xt, p, training)
        else:
            y = _module_apply(torch, p, training)(xt)
    return _numpy(y, npdt)


def _run_vjp(fn, x, p, seed, dy, dtype, functional):
    x, p, seed, dy = _dc.vjp_args(fn, x, p, seed, dy, SEED_LIMIT)
    torch, tdt, npdt = _dtype(fn, dtype)
    xt = _tensor(torch, x, tdt, requires_grad=True)
    with torch.enable_grad(), _seeded(torch, seed):
        y = torch.nn.functional.dropout(xt, p, True) if functional else _module_apply(torch, p, True)(xt)
        (dx,) = torch.autograd.grad(y, xt, grad_outputs=_tensor(torch, dy, tdt), allow_unused=True)
    return _numpy(torch.zeros_like(xt) if dx is None else dx, npdt)


def dropout(x, p, training, seed, *, dtype: str = "float64"):
    """y = torch.nn.Dropout(p) in .train() (training) or .eval() mode, applied to x; the mask from ``seed``."""
    return _run("torch.nn.Dropout", x, p, training, seed, dtype, functional=False)


def dropout_vjp(x, p, seed, dy, *, dtype: str = "float64"):
    """dx = d<dy, y>/dx by autograd through torch.nn.Dropout(p).train(), the mask of dropout(x, p, True, seed)."""
    return _run_vjp("torch.nn.Dropout (vjp)", x, p, seed, dy, dtype, functional=False)


def functional_dropout(x, p, training, seed, *, dtype: str = "float64"):
    """y = torch.nn.functional.dropout(x, p, training); the mask from ``seed``."""
    return _run("torch.nn.functional.dropout", x, p, training, seed, dtype, functional=True)


def functional_dropout_vjp(x, p, seed, dy, *, dtype: str = "float64"):
    """dx by autograd through torch.nn.functional.dropout(x, p, True), the mask of functional_dropout."""
    return _run_vjp("torch.nn.functional.dropout (vjp)", x, p, seed, dy, dtype, functional=True)


def capabilities(dtype: str = "float64", functional: bool = False) -> dict:
    """{"dropout", "dropout_vjp"} bound to ``dtype``: torch.nn.Dropout, or F.dropout with ``functional``."""
    _dtype("torch_nn_dropout.capabilities", dtype)
    fwd, vjp = (functional_dropout, functional_dropout_vjp) if functional else (dropout, dropout_vjp)
    return {"dropout": partial(fwd, dtype=dtype), "dropout_vjp": partial(vjp, dtype=dtype)}
