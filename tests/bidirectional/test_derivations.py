"""Bidirectional derivations: record statuses, and the oracles (RNN, GRU in both reset variants, LSTM) against
independent explicit loops: the backward direction run on the reversed sequence and re-reversed."""
import numpy as np
import pytest

from gru.test_derivations import VARIANTS, _sig, check_record_status, gru_problem, ref_gru

EXPECTED = {
    "definition": ["bi.output_layout"],
    # the bidirectional reversal and final states by induction over T
    "proved": ["bi.backward_is_reversed_forward", "bi.final_states"],
    # "generically non-zero" rests on the cited zero-set lemma of real-analytic functions
    "proved-from-lemmas": ["bi.full_dependence"],
}


@pytest.mark.parametrize("status,rid", [(s, r) for s, ids in EXPECTED.items() for r in ids])
def test_record_status(status, rid):
    check_record_status(status, rid)


def _rnn_params(rng, n, m):
    return {"W_x": rng.normal(0, 0.8, (n, m)), "W_h": rng.normal(0, 0.8, (n, n)), "b": rng.normal(0, 0.3, n)}


def test_rnn_bi_matches_explicit_loop_and_final_states():
    from dlproof.derivations import oracle_bidirectional

    rng = np.random.default_rng(6)
    T, B, n, m = 5, 2, 3, 2
    xs = rng.normal(size=(T, B, m))
    p_f, p_b = _rnn_params(rng, n, m), _rnn_params(rng, n, m)
    h0_f, h0_b = rng.normal(0, 0.5, (B, n)), rng.normal(0, 0.5, (B, n))
    ys, h_f, h_b = oracle_bidirectional.rnn_bi(xs, h0_f, h0_b, p_f, p_b)
    want = np.zeros((T, B, 2 * n))
    for b in range(B):
        h = h0_f[b]
        for t in range(T):
            h = want[t, b, :n] = np.tanh(p_f["W_x"] @ xs[t, b] + p_f["W_h"] @ h + p_f["b"])
        h = h0_b[b]
        for t in range(T - 1, -1, -1):  # the backward recursion, directly
            h = want[t, b, n:] = np.tanh(p_b["W_x"] @ xs[t, b] + p_b["W_h"] @ h + p_b["b"])
    assert ys.shape == (T, B, 2 * n)
    assert np.allclose(ys, want, rtol=1e-13, atol=1e-14)
    assert np.array_equal(h_f, ys[-1, :, :n]) and np.array_equal(h_b, ys[0, :, n:])
    assert not np.allclose(h_b, ys[-1, :, n:])


@pytest.mark.parametrize("variant", VARIANTS)
def test_gru_bi_matches_explicit_loop(variant):
    from dlproof.derivations import oracle_bidirectional

    xs, h0_f, p_f, _, _ = gru_problem(7, T=4, B=2, n=3, m=2)
    _, h0_b, p_b, _, _ = gru_problem(8, T=4, B=2, n=3, m=2)
    ys, h_f, h_b = oracle_bidirectional.gru_bi(xs, h0_f, h0_b, p_f, p_b, variant)
    fwd = ref_gru(xs, h0_f, p_f, variant)
    bwd = ref_gru(xs[::-1], h0_b, p_b, variant)[::-1]
    assert np.allclose(ys, np.concatenate([fwd, bwd], axis=-1), rtol=1e-13, atol=1e-14)
    assert np.array_equal(h_f, ys[-1, :, :3]) and np.array_equal(h_b, ys[0, :, 3:])


def test_lstm_bi():
    from dlproof.derivations import oracle_bidirectional

    rng = np.random.default_rng(9)
    T, B, n, m = 4, 2, 3, 2

    def params():
        p = {}
        for g in "ifgo":
            p[f"W_x{g}"], p[f"W_h{g}"], p[f"b_{g}"] = rng.normal(0, 0.8, (n, m)), rng.normal(0, 0.8, (n, n)), rng.normal(0, 0.3, n)
        return p

    def ref(xs, h0, c0, p):
        hs, cT = np.empty((xs.shape[0], B, n)), np.empty((B, n))
        for b in range(B):
            h, c = h0[b], c0[b]
            for t in range(xs.shape[0]):
                a = {g: p[f"W_x{g}"] @ xs[t, b] + p[f"W_h{g}"] @ h + p[f"b_{g}"] for g in "ifgo"}
                c = _sig(a["f"]) * c + _sig(a["i"]) * np.tanh(a["g"])
                h = hs[t, b] = _sig(a["o"]) * np.tanh(c)
            cT[b] = c
        return hs, cT

    xs = rng.normal(size=(T, B, m))
    p_f, p_b = params(), params()
    s_f = (rng.normal(0, 0.5, (B, n)), rng.normal(0, 0.5, (B, n)))
    s_b = (rng.normal(0, 0.5, (B, n)), rng.normal(0, 0.5, (B, n)))
    ys, (h_f, c_f), (h_b, c_b) = oracle_bidirectional.lstm_bi(xs, s_f, s_b, p_f, p_b)
    fwd, cf = ref(xs, *s_f, p_f)
    bwd, cb = ref(xs[::-1], *s_b, p_b)
    assert np.allclose(ys, np.concatenate([fwd, bwd[::-1]], axis=-1), rtol=1e-12, atol=1e-13)
    assert np.allclose(h_f, fwd[-1]) and np.allclose(c_f, cf) and np.allclose(h_b, bwd[-1]) and np.allclose(c_b, cb)
