"""The batchnorm chapter's tests that need torch: the torch reference, the torch.nn adapter and the checks run on
them (the rest, torch-free: test_batchnorm.py)."""
from functools import partial
import numpy as np
from fractions import Fraction
import pytest

torch = pytest.importorskip("torch")

from dlproof.derivations import oracle_batchnorm as oracle  # noqa: E402
from dlproof.impl.numpy_ref import batchnorm as NB  # noqa: E402
from dlproof.properties import harness  # noqa: E402
from dlproof.properties.registry import all_properties  # noqa: E402
from dlproof.impl.adapters import torch_nn_batchnorm as AB  # noqa: E402
from dlproof.impl.torch_ref import batchnorm as TB  # noqa: E402
from dlproof.properties import tolerances as TOL  # noqa: E402
from dlproof.properties.batchnorm import tolerances as TBN  # noqa: E402
from batchnorm.test_batchnorm import (  # noqa: E402
    BAD_FORWARD, BAD_VJP, ISSUE_COLUMN, PROPS, _GOOD, _adapter64, _bn_with, _check_all, _columns, _exact_var, _fd_vjp, _fixed_problem, _fwd_call, _ill_conditioned, _problem, chan_pairwise, numpy_var, welford)


@pytest.mark.parametrize("impl", ["numpy", "torch", "torch.nn"])
def test_forward_matches_oracle(impl):
    fwd = {"numpy": NB.batchnorm, "torch": TB.batchnorm, "torch.nn": _adapter64(AB.batchnorm)}[impl]
    p = _problem()
    for training in (True, False):
        got = fwd(p["x"], p["gamma"], p["beta"], p["rm"], p["rv"], training, 0.3, p["eps"])
        want = oracle.batchnorm(p["x"], p["gamma"], p["beta"], p["rm"], p["rv"], training, 0.3, p["eps"])
        for g, w in zip(got, want):
            assert g.dtype == np.float64
            np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("impl", ["numpy", "torch", "torch.nn"])
def test_vjp_matches_oracle_and_finite_differences(impl):
    vjp = {"numpy": NB.batchnorm_vjp, "torch": TB.batchnorm_vjp, "torch.nn": _adapter64(AB.batchnorm_vjp)}[impl]
    p = _problem(1)
    got = vjp(p["x"], p["gamma"], p["beta"], p["eps"], p["dy"])
    want = oracle.vjp(p["x"], p["gamma"], p["eps"], p["dy"])
    fd = _fd_vjp(p)
    for k in ("x", "gamma", "beta"):
        np.testing.assert_allclose(got[k], want[k], rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(want[k], fd[k], rtol=1e-5, atol=1e-5)


def test_running_update_conventions_and_eval_returns_copies():
    p = _problem(3)
    N = p["x"].shape[0]
    mu, var = p["x"].mean(0), p["x"].var(0)
    rm, rv = oracle.running_update(p["x"], p["rm"], p["rv"], 0.25, "unbiased")
    np.testing.assert_allclose(rv, 0.75 * p["rv"] + 0.25 * var * N / (N - 1), rtol=1e-14)
    np.testing.assert_allclose(oracle.running_update(p["x"], p["rm"], p["rv"], 0.25, "biased")[1],
                               0.75 * p["rv"] + 0.25 * var, rtol=1e-14)
    np.testing.assert_allclose(rm, 0.75 * p["rm"] + 0.25 * mu, rtol=1e-14)
    for fwd in (NB.batchnorm, TB.batchnorm, _adapter64(AB.batchnorm)):
        x0, rm0 = p["x"].copy(), p["rm"].copy()
        _, rm_out, rv_out = fwd(p["x"], p["gamma"], p["beta"], p["rm"], p["rv"], False, 0.5, p["eps"])
        assert np.array_equal(rm_out, p["rm"]) and np.array_equal(rv_out, p["rv"])
        rm_out[:] = 7.0  # a copy: writing to it leaves the caller's array alone
        assert np.array_equal(p["rm"], rm0) and np.array_equal(p["x"], x0)


def test_float32_in_float32_out():
    p = _problem(4)
    args = [p[k].astype(np.float32) for k in ("x", "gamma", "beta", "rm", "rv")]
    for fwd in (NB.batchnorm, TB.batchnorm, partial(AB.batchnorm, dtype="float32")):
        assert all(a.dtype == np.float32 for a in fwd(*args, True, 0.1, 1e-5))
    g = NB.batchnorm_vjp(args[0], args[1], args[2], 1e-5, p["dy"].astype(np.float32))
    assert all(v.dtype == np.float32 for v in g.values())


@pytest.mark.parametrize("impl", ["numpy", "torch", "torch.nn"])
@pytest.mark.parametrize("over,exc,msg", BAD_FORWARD, ids=[f"bad{i}" for i in range(len(BAD_FORWARD))])
def test_forward_rejects_bad_input(impl, over, exc, msg):
    fwd = {"numpy": NB.batchnorm, "torch": TB.batchnorm, "torch.nn": _adapter64(AB.batchnorm)}[impl]
    with pytest.raises(exc, match="batchnorm: .*" + msg.replace("(", r"\(").replace(")", r"\)")):
        fwd(*_fwd_call(**over))


@pytest.mark.parametrize("impl", ["numpy", "torch", "torch.nn"])
@pytest.mark.parametrize("over,msg", BAD_VJP, ids=[f"bad{i}" for i in range(len(BAD_VJP))])
def test_vjp_rejects_bad_input(impl, over, msg):
    vjp = {"numpy": NB.batchnorm_vjp, "torch": TB.batchnorm_vjp, "torch.nn": _adapter64(AB.batchnorm_vjp)}[impl]
    kw = dict(x=_GOOD["x"], gamma=_GOOD["gamma"], beta=_GOOD["beta"], eps=1e-5, dy=_GOOD["dy"])
    kw.update(over)
    with pytest.raises(ValueError, match="batchnorm_vjp: .*" + msg):
        vjp(kw["x"], kw["gamma"], kw["beta"], kw["eps"], kw["dy"])


def test_adapter_rejects_unknown_dtype():
    with pytest.raises(ValueError, match="argument 'dtype' should be one of"):
        AB.batchnorm(*_fwd_call(), dtype="int8")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_adapter_passes_every_bn_property(dtype):
    target = AB.target(dtype)
    assert target.convention("bn_running_var") == "unbiased"
    props = all_properties()
    for pid in PROPS:
        row = harness.run(props[pid], target, f"torch_nn_batchnorm:{dtype}", profile="ci")
        assert row["verdict"] == "pass" and row["examples"] > 0, row


def torch_var_mean(x):
    v, m = torch.var_mean(torch.from_numpy(np.ascontiguousarray(x)), dim=0, unbiased=False)
    return m.numpy(), v.numpy()


STABLE = {"welford": welford, "chan_pairwise": chan_pairwise, "torch.var_mean": torch_var_mean, "np.var": numpy_var}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("algo", sorted(STABLE))
def test_stable_variance_errors_stay_inside_the_stable_model(algo, dtype):
    """|var^ - var| <= e_var of properties.batchnorm.tolerances (without SAFETY), var exact in rational arithmetic: every stable
    algorithm, on ill-conditioned columns (offset up to 1e4, spread down to 3e-3, N up to 64)."""
    u = TOL.UNIT_ROUNDOFF[dtype]
    for x in _columns(dtype):
        mu_hat, var_hat = STABLE[algo](x)
        _, _, e_mu, e_var = TBN.train_stats_bound(x, u, "stable")
        exact = _exact_var(x[:, 0])
        exact_mu = float(sum(Fraction(float(v)) for v in x[:, 0]) / x.shape[0])
        assert abs(float(var_hat[0]) - exact) <= e_var[0], (algo, x[:, 0], float(var_hat[0]), exact, e_var[0])
        assert abs(float(mu_hat[0]) - exact_mu) <= e_mu[0], (algo, x[:, 0])


def _torch_vjp(x, gamma, beta, eps, dy):
    """Autograd through torch.var_mean (the variance's backward of a Welford forward)."""
    xt, gt, bt = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    v, m = torch.var_mean(xt, dim=0, unbiased=False)
    y = gt * (xt - m) / torch.sqrt(v + eps) + bt
    gx, gg, gb = torch.autograd.grad(y, (xt, gt, bt), torch.from_numpy(np.ascontiguousarray(dy)))
    return {"x": gx.numpy(), "gamma": gg.numpy(), "beta": gb.numpy()}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("algo", sorted(STABLE))
def test_stable_algorithms_pass_every_bn_property_on_ill_conditioned_columns(algo, dtype):
    vjp = _torch_vjp if algo == "torch.var_mean" else None
    target = _bn_with(STABLE[algo], algo, dtype, vjp=vjp)
    for problem in (_fixed_problem(ISSUE_COLUMN.astype(dtype)[:, None], dtype), _fixed_problem(_ill_conditioned(dtype), dtype)):
        failures = {k: v for k, v in _check_all(target, problem).items() if v}
        assert not failures, failures


def test_the_issue_column_with_torch_var_passes_running_stats():
    """The reported case: torch.var (float64) on x = (10.1634783, 10.0272769) failed bn.running_stats at 2.6x."""
    target = _bn_with(torch_var_mean, "torch.var_mean", "float64")
    for m in (0.1, 0.5, 1.0):
        problem = _fixed_problem(ISSUE_COLUMN[:, None].copy(), "float64", momentum=m)
        assert _check_all(target, problem)["bn.running_stats"] is None


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_stable_algorithms_pass_under_the_ci_profile(dtype):
    props = all_properties()
    for algo in ("welford", "torch.var_mean"):
        target = _bn_with(STABLE[algo], algo, dtype, vjp=_torch_vjp if algo == "torch.var_mean" else None)
        for pid in PROPS:
            row = harness.run(props[pid], target, f"{algo}:{dtype}", profile="ci")
            assert row["verdict"] == "pass", row
