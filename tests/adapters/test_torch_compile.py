"""torch.compile targets (impl/adapters/torch_compile.py): compiled code really runs, gives the eager
reference's values within the float32 error model, and an eager fallback is an error, never a pass."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dlproof.impl.adapters import torch_compile as tc  # noqa: E402
from dlproof.impl.targets import numpy_target  # noqa: E402
from dlproof.properties import tolerances as tol  # noqa: E402


def _rnn_problem(seed=0, T=3, B=2, m=2, n=3):
    rng = np.random.default_rng(seed)
    p = {"W_x": rng.standard_normal((n, m)), "W_h": rng.standard_normal((n, n)) / n, "b": rng.standard_normal(n)}
    arrays = rng.standard_normal((T, B, m)), rng.standard_normal((B, n)), p
    return [np.asarray(a, np.float32) if not isinstance(a, dict) else {k: v.astype(np.float32) for k, v in a.items()}
            for a in arrays]


def test_bad_arguments_are_refused_clearly():
    with pytest.raises(ValueError, match="dtype"):
        tc.torch_ref_target("float16x")
    with pytest.raises(ValueError, match="dtype"):
        tc.torch_nn_target("int8")
    with pytest.raises(ValueError, match="has no compiled helpers"):
        tc.compiled_view("dropout")


def test_capabilities_that_cannot_be_compiled_are_left_out_not_run_eagerly():
    t = tc.torch_ref_target("float32")
    assert not set(tc.NOT_COMPILED) & set(t.capabilities)
    assert {"rnn", "lstm_vjp", "gru_bi", "lstm_stack_vjp", "layernorm_vjp", "mha_vjp"} <= set(t.capabilities)


def test_views_leave_the_reference_modules_untouched():
    from dlproof.impl.torch_ref import lstm, stacked

    view = tc.compiled_view("stacked")
    assert view._lstm is tc.compiled_view("lstm") and stacked._lstm is lstm
    assert lstm._cell is not tc.compiled_view("lstm")._cell and lstm._cell.__module__ == lstm.__name__


@pytest.mark.slow
@pytest.mark.parametrize("factory", [tc.torch_ref_target, tc.torch_nn_target])
def test_a_call_runs_compiled_code_within_the_float32_model(factory):
    xs, h0, p = _rnn_problem()
    exact_hs, exact_hT = numpy_target("float64").rnn(*(np.float64(xs), np.float64(h0)),
                                                     {k: np.float64(v) for k, v in p.items()})
    tc.reset_counts()
    hs, hT = factory("float32").rnn(xs, h0, p)
    c = tc.counts()
    assert c["graph_calls"] >= 1 and c["calls"]["rnn"] == c["compiled_calls"]["rnn"] == 1, c
    tol_hs, tol_hT = tol.rnn_forward_tol(xs, h0, p, "tanh", "float32")
    assert hs.dtype == np.float32 and np.all(np.abs(hs - exact_hs) <= tol_hs)
    assert np.all(np.abs(hT - exact_hT) <= tol_hT)


@pytest.mark.slow
def test_an_eager_fallback_is_an_error_not_a_result(monkeypatch):
    # a recompile limit of 0 graphs leaves dynamo nothing but eager: the helper must refuse to return a value
    xs, h0, p = _rnn_problem(T=4)
    monkeypatch.setattr(tc, "RECOMPILE_LIMIT", 0)
    import torch._dynamo

    torch._dynamo.reset()
    with pytest.raises(tc.EagerFallback, match="without compiled code|recompile limit"):
        tc.torch_ref_target("float32").rnn(xs, h0, p)
    torch._dynamo.reset()
