"""Stacked derivations: record statuses (honest: the chain-rule records are checked at width 2 only), that the
masked-sequence inductions fail on wrong claims, and the oracle against independent explicit loops."""
import numpy as np
import pytest

from chapter_checks import chapter_records, check_chapter_records

EXPECTED = {
    "stack.composition": "definition",
    "stack.dropout.between_layers": "definition",
    # the chain rule by sympy at the explicit width k = 2 only
    "stack.jacobian_product": "checked-at-sizes",
    "stack.lower_layer_gradient": "checked-at-sizes",
    "stack.padding.batch_rows_independent": "checked-at-sizes",
    # inductions at symbolic t, len (any cell), and the zero block at symbolic n, m
    "stack.padding.final_state": "proved",
    "stack.padding.reversed_within_length": "proved",
    "stack.padding.real_steps_independent": "proved",
}


@pytest.fixture(scope="module")
def records():
    return chapter_records(EXPECTED)


def test_records(records):
    check_chapter_records(records, "stack", EXPECTED, "09-Recurrent-Networks.md")
    for rid in ("stack.jacobian_product", "stack.lower_layer_gradient"):
        assert "checked" in records[rid]["title"].lower() and "not proved for every" in " ".join(records[rid]["assumptions"])


@pytest.mark.slow
def test_wrong_claims_are_not_proved():
    from dlproof.derivations import stacked as S

    assert [r.status for _, r, _ in S.masked_forward_obligations(wrong=True)][-1] != "proved"  # padded step leaks
    assert [r.status for _, r, _ in S.masked_backward_obligations(shift=1)][-1] != "proved"  # reversed off by one
    assert [r.status for _, r, _ in S.chain_obligations(2, wrong=True)][-1] != "proved"  # product order swapped


# ---------------------------------------------------------------- the oracle against explicit loops
def _tanh_layer(rng, n, m):
    return {"W_x": rng.normal(0, 0.7, (n, m)), "W_h": rng.normal(0, 0.7, (n, n)), "b": rng.normal(0, 0.3, n)}


def _explicit_rnn(xs, h0, layers, lens):
    """Independent loops: every sequence alone, layer by layer, the backward direction indexed directly."""
    T, B, _ = xs.shape
    L, D, n = len(layers), len(layers[0]), h0.shape[-1]
    ys, hT = np.zeros((T, B, D * n)), np.zeros_like(h0)
    for b in range(B):
        inp = [xs[t, b] for t in range(lens[b])]
        for l in range(L):
            out = [np.zeros(D * n) for _ in inp]
            for d in range(D):
                p, h = layers[l][d], h0[l, d, b]
                order = range(len(inp)) if d == 0 else range(len(inp) - 1, -1, -1)
                for t in order:
                    h = np.tanh(p["W_x"] @ inp[t] + p["W_h"] @ h + p["b"])
                    out[t][d * n:(d + 1) * n] = h
                hT[l, d, b] = h
            inp = out
        for t, y in enumerate(inp):
            ys[t, b] = y
    return ys, hT


@pytest.mark.parametrize("L,D", [(1, 2), (2, 1), (2, 2)])
def test_rnn_stack_oracle_matches_explicit_loops(L, D):
    from dlproof.derivations import oracle_stacked as O

    rng = np.random.default_rng(L * 10 + D)
    T, B, n, m = 4, 3, 3, 2
    layers = [[_tanh_layer(rng, n, m if l == 0 else D * n) for _ in range(D)] for l in range(L)]
    xs, h0 = rng.normal(size=(T, B, m)), rng.normal(0, 0.5, (L, D, B, n))
    lens = np.array([4, 2, 3])
    ys, (hT,) = O.stack_forward("rnn", xs, (h0,), layers, lens)
    want_ys, want_hT = _explicit_rnn(xs, h0, layers, lens)
    np.testing.assert_allclose(ys, want_ys, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(hT, want_hT, rtol=1e-13, atol=1e-14)
    assert np.all(ys[2:, 1] == 0) and np.all(ys[3:, 2] == 0)
    carry, _ = O.stack_forward("rnn", xs, (h0,), layers, lens, padded_output="carry")
    if D == 1:  # 'carry': a unidirectional stack repeats its last real output
        assert np.array_equal(carry[2:, 1], np.broadcast_to(ys[1, 1], (2, n)))
    else:  # a bidirectional one gives 0 in both halves (Keras' Bidirectional)
        assert np.array_equal(carry, ys) and np.all(carry[2:, 1] == 0)


def test_dropout_masks_scale_the_inputs_of_upper_layers_only():
    from dlproof.derivations import oracle_stacked as O

    rng = np.random.default_rng(3)
    T, B, n, m, p = 3, 2, 2, 2, 0.5
    layers = [[_tanh_layer(rng, n, m)], [_tanh_layer(rng, n, n)]]
    xs, h0 = rng.normal(size=(T, B, m)), np.zeros((2, 1, B, n))
    mask = (rng.random((T, B, n)) < 0.5).astype(float)
    ys, _ = O.stack_forward("rnn", xs, (h0,), layers, None, [mask], p)
    y1, _ = O.run_layer("rnn", xs, (h0[0, 0],), layers[0][0])
    want, _ = O.run_layer("rnn", mask * y1 / (1 - p), (h0[1, 0],), layers[1][0])
    np.testing.assert_allclose(ys, want, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("kind, pad", [("lstm", "carry"), ("gru", "zero")] + [
    pytest.param(k, p, marks=pytest.mark.slow) for k, p in (("rnn", "zero"), ("rnn", "carry"), ("gru", "carry"),
                                                            ("lstm", "zero"))])
def test_oracle_vjp_matches_central_differences(kind, pad):
    """<d_ys, ys> + <d_final, final> differentiated numerically (float64, h = 1e-6) vs the oracle VJP; padded
    inputs get exactly 0. Independent of the VJP code: only the forward is differentiated."""
    from dlproof.derivations import oracle_stacked as O
    from dlproof.parameters import PARAMS

    rng = np.random.default_rng(11)
    T, B, n, m, L, D = 3, 2, 2, 2, 2, 2
    layers = [[{k: rng.normal(0, 0.6, (n, m if l == 0 else D * n) if k.startswith("W_x") else
                                (n, n) if k.startswith("W_h") else n) for k in PARAMS[kind]} for _ in range(D)]
              for l in range(L)]
    xs = rng.normal(size=(T, B, m))
    states = tuple(rng.normal(0, 0.5, (L, D, B, n)) for _ in range(O.n_states(kind)))
    lens = np.array([3, 2])
    d_ys = rng.normal(size=(T, B, D * n))
    d_f = tuple(rng.normal(size=s.shape) for s in states)

    def loss(x):
        ys, fin = O.stack_forward(kind, x, states, layers, lens, padded_output=pad)
        return np.sum(d_ys * ys) + sum(np.sum(a * b) for a, b in zip(d_f, fin))

    g = O.stack_vjp(kind, xs, states, layers, lens, d_ys, d_f, pad)
    num = np.zeros_like(xs)
    for i in np.ndindex(xs.shape):
        e = np.zeros_like(xs)
        e[i] = 1e-6
        num[i] = (loss(xs + e) - loss(xs - e)) / 2e-6
    np.testing.assert_allclose(g["xs"], num, rtol=1e-6, atol=1e-8)
    assert np.all(g["xs"][2:, 1] == 0)
    W = layers[0][1]["W_x" if kind == "rnn" else "W_x" + ("i" if kind == "lstm" else "r")]
    name = "W_x" if kind == "rnn" else "W_x" + ("i" if kind == "lstm" else "r")
    e = np.zeros_like(W)
    e[1, 0] = 1e-6
    W += e
    up = loss(xs)
    W -= 2 * e
    down = loss(xs)
    W += e
    assert np.isclose(g["layers"][0][1][name][1, 0], (up - down) / 2e-6, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("bad, match", [
    (dict(xs=np.zeros((0, 1, 2))), "T >= 1"),
    (dict(lengths=np.array([0])), "in \\[1, T"),
    (dict(lengths=np.array([1.0])), "int array"),
    (dict(h0=np.zeros((1, 1, 1, 3))), "h0 has shape"),
    (dict(xs=np.full((2, 1, 2), np.nan)), "NaN"),
])
def test_bad_input_is_refused(bad, match):
    from dlproof.derivations import oracle_stacked as O

    rng = np.random.default_rng(0)
    args = dict(xs=rng.normal(size=(2, 1, 2)), h0=np.zeros((1, 1, 1, 2)), lengths=None)
    args.update(bad)
    with pytest.raises(ValueError, match=match):
        O.stack_forward("rnn", args["xs"], (args["h0"],), [[_tanh_layer(rng, 2, 2)]], args["lengths"])
