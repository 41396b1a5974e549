"""The NumPy reference of stacked networks (dlproof/impl/numpy_ref/stacked.py) against independent computations:
the single-layer bidirectional reference, a per-sequence loop over the single-layer references written from the
contract (its own masks, its own reversal, a projected step built from `lstm.lstm_cell`), central finite
differences of its own forward; the padding and dropout rules; refused inputs; the mutants' bugs are real."""
from __future__ import annotations

import numpy as np
import pytest

from dlproof.impl.numpy_ref import bidirectional as BI
from dlproof.impl.numpy_ref import gru as G
from dlproof.impl.numpy_ref import lstm as LS
from dlproof.impl.numpy_ref import rnn as R
from dlproof.impl.numpy_ref import stacked as S
from dlproof.parameters import PARAMS
from dlproof.properties.finite_difference import directional

from chapter_checks import check_refused


# ---- problems -------------------------------------------------------------------------------------------

def make_layers(rng, kind, L, D, m, n, P=None, scale=0.6, dtype=np.float64):
    layers, inp = [], m
    for _ in range(L):
        row = []
        for _ in range(D):
            p = {}
            for k in PARAMS[kind]:
                shape = (n, inp) if k.startswith("W_x") else (n, P or n) if k.startswith("W_h") else (n,)
                p[k] = (scale * rng.standard_normal(shape)).astype(dtype)
            if P:
                p["W_proj"] = (scale * rng.standard_normal((P, n))).astype(dtype)
            row.append(p)
        layers.append(row)
        inp = D * (P or n)
    return layers


def problem(kind, L=2, D=2, T=4, B=3, m=2, n=3, P=None, lengths=True, seed=0, dtype=np.float64):
    """(xs, states, layers, lengths, cotangents (d_ys, d_finals...)) of a random stack."""
    rng = np.random.default_rng(seed)
    no = P or n
    xs = rng.standard_normal((T, B, m)).astype(dtype)
    states = [rng.standard_normal((L, D, B, no)).astype(dtype)]
    if kind == "lstm":
        states.append(rng.standard_normal((L, D, B, n)).astype(dtype))
    layers = make_layers(rng, kind, L, D, m, n, P, dtype=dtype)
    lens = None
    if lengths:
        lens = rng.integers(1, T + 1, size=B)
        lens[0] = T  # one full-length sequence, one of length 1
        lens[-1] = 1
    cots = [rng.standard_normal((T, B, D * no)).astype(dtype)] + [rng.standard_normal(s.shape).astype(dtype)
                                                                    for s in states]
    return xs, states, layers, lens, cots


def run(mod, kind, xs, states, layers, lens, dropout=0.0, training=False, seed=0):
    """(ys, [finals]) of ``mod``'s {kind}_stack."""
    ys, fin = getattr(mod, f"{kind}_stack")(xs, *states, layers, lens, dropout, training, seed)
    return ys, list(fin) if kind == "lstm" else [fin]


def vjp(mod, kind, xs, states, layers, lens, cots):
    return getattr(mod, f"{kind}_stack_vjp")(xs, *states, layers, lens, *cots)


def loss(mod, kind, xs, states, layers, lens, cots):
    ys, fin = run(mod, kind, xs, states, layers, lens)
    return float(np.sum(ys * cots[0]) + sum(np.sum(f * d) for f, d in zip(fin, cots[1:])))


# ---- an independent computation: one sequence at a time, from the contract -------------------------------

def _proj_seq(xs, h, c, p):
    """Projected LSTM through `lstm.lstm_cell`: h (B, P) zero-padded to n columns, W_h* (n, P) to (n, n);
    the cell's o tanh(c') times W_proj^T."""
    n, P = p["W_hi"].shape
    q = {k: (np.pad(v, ((0, 0), (0, n - P))) if k.startswith("W_h") else v) for k, v in p.items()}
    hs = []
    for x in xs:
        u, c = LS.lstm_cell(x, np.pad(h, ((0, 0), (0, n - P))), c, q)
        h = u @ p["W_proj"].T
        hs.append(h)
    return np.stack(hs), (h, c)


def _seq(kind, xs, state, p):
    if kind == "rnn":
        hs, h = R.rnn(xs, state[0], p)
        return hs, [h]
    if kind == "gru":
        hs, h = G.gru(xs, state[0], p)
        return hs, [h]
    hs, (h, c) = (_proj_seq if "W_proj" in p else LS.lstm)(xs, *state, p)
    return hs, [h, c]


def loop_stack(kind, xs, states, layers, lens, dropout=0.0, training=False, seed=0):
    """The contract, sequence by sequence: layer l >= 1 reads (masked) outputs of layer l - 1; the backward
    direction reads x_{len-1} .. x_0 and writes out[t] at t = len - 1 - k; padded outputs 0."""
    T, B, _ = xs.shape
    L, D = len(layers), len(layers[0])
    lens = np.full(B, T) if lens is None else lens
    no = states[0].shape[-1]
    masks = None
    if training and dropout > 0:
        rng = np.random.default_rng(seed)
        masks = [(rng.random((T, B, D * no)) < 1 - dropout) / (1 - dropout) for _ in range(L - 1)]
    finals = [np.zeros_like(s) for s in states]
    inp = xs
    for l in range(L):
        if l and masks is not None:
            inp = inp * masks[l - 1]
        out = np.zeros((T, B, D * no))
        for b in range(B):
            k = lens[b]
            for d in range(D):
                seq = inp[:k, b : b + 1]
                hs, fin = _seq(kind, seq[::-1] if d else seq, [s[l, d, b : b + 1] for s in states], layers[l][d])
                out[:k, b, d * no : (d + 1) * no] = (hs[::-1] if d else hs)[:, 0]
                for f, v in zip(finals, fin):
                    f[l, d, b] = v[0]
        inp = out
    return inp, finals


CASES = [("rnn", None), ("gru", None), ("lstm", None), ("lstm", 2)]


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_one_full_length_bidirectional_layer_is_the_bi_reference(kind):
    xs, states, layers, _, _ = problem(kind, L=1, D=2, lengths=False, seed=1)
    ys, fin = run(S, kind, xs, states, layers, None)
    sf = [s[0, 0] for s in states]
    sb = [s[0, 1] for s in states]
    if kind == "lstm":
        want, f, b = BI.lstm_bi(xs, tuple(sf), tuple(sb), *layers[0])
    else:
        want, f, b = getattr(BI, f"{kind}_bi")(xs, sf[0], sb[0], *layers[0])
        f, b = [f], [b]
    np.testing.assert_array_equal(ys, want)
    for k, got in enumerate(fin):
        np.testing.assert_array_equal(got[0, 0], f[k])
        np.testing.assert_array_equal(got[0, 1], b[k])


@pytest.mark.parametrize("kind,P", CASES)
@pytest.mark.parametrize("D", [1, 2])
def test_matches_the_per_sequence_loop(kind, P, D):
    xs, states, layers, lens, _ = problem(kind, L=2, D=D, T=5, n=3, P=P, seed=2 + D)
    for dropout, training in ((0.0, False), (0.4, True)):
        ys, fin = run(S, kind, xs, states, layers, lens, dropout, training, seed=7)
        want, wfin = loop_stack(kind, xs, states, layers, lens, dropout, training, seed=7)
        np.testing.assert_allclose(ys, want, rtol=1e-13, atol=1e-14)
        for a, b in zip(fin, wfin):
            np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("kind,P", CASES)
def test_vjp_matches_finite_differences(kind, P):
    """<grad, v> against the central difference of the reference's own forward along a random v, for xs, each
    state and every parameter of every layer-direction; the gradient at padded inputs is exactly 0."""
    xs, states, layers, lens, cots = problem(kind, L=2, D=2, T=4, n=3, P=P, seed=5)
    g = vjp(S, kind, xs, states, layers, lens, cots)
    rng = np.random.default_rng(9)
    f = lambda xs_=xs, st=states, lay=layers: loss(S, kind, xs_, st, lay, lens, cots)  # noqa: E731

    def close(fd, exact):
        assert abs(fd - exact) <= 1e-7 * (1 + abs(exact)), (fd, exact)

    v = rng.standard_normal(xs.shape)
    close(directional(lambda z: f(xs_=z), xs, v, 1e-5), np.sum(g["xs"] * v))
    names = ("h0", "c0") if kind == "lstm" else ("h0",)
    for i, name in enumerate(names):
        v = rng.standard_normal(states[i].shape)
        close(directional(lambda z: f(st=states[:i] + [z] + states[i + 1 :]), states[i], v, 1e-5),
              np.sum(g[name] * v))
    for l, row in enumerate(layers):
        for d, p in enumerate(row):  # one random direction over all params of a layer-direction
            assert set(g["layers"][l][d]) == set(p)
            names = sorted(p)
            flat = np.concatenate([p[k].ravel() for k in names])
            cuts = np.cumsum([p[k].size for k in names])[:-1]

            def fl(z):
                lay = [[dict(q) for q in r] for r in layers]
                lay[l][d] = {k: part.reshape(p[k].shape) for k, part in zip(names, np.split(z, cuts))}
                return f(lay=lay)
            v = rng.standard_normal(flat.shape)
            exact = np.sum(np.concatenate([g["layers"][l][d][k].ravel() for k in names]) * v)
            close(directional(fl, flat, v, 1e-5), exact)
    padded = np.arange(xs.shape[0])[:, None] >= lens[None, :]
    assert padded.any() and np.all(g["xs"][padded] == 0)


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_padded_steps_are_zero_and_never_read(kind):
    xs, states, layers, lens, cots = problem(kind, L=2, D=2, T=5, seed=11)
    padded = np.arange(5)[:, None] >= lens[None, :]
    ys, fin = run(S, kind, xs, states, layers, lens)
    assert np.all(ys[padded] == 0) and np.all(ys[~padded] != 0)
    junk = xs.copy()
    junk[padded] = 1e3
    ys2, fin2 = run(S, kind, junk, states, layers, lens)
    np.testing.assert_array_equal(ys, ys2)
    for a, b in zip(fin, fin2):
        np.testing.assert_array_equal(a, b)
    # the backward direction of a sequence of length 1 reads x_0 alone: its final state is one step from h0
    b = int(np.flatnonzero(lens == 1)[0])
    _, one = _seq(kind, xs[:1, b : b + 1], [s[0, 1, b : b + 1] for s in states], layers[0][1])
    np.testing.assert_array_equal(fin[0][0, 1, b], one[0][0])


def test_dropout_rule():
    xs, states, layers, lens, _ = problem("gru", L=3, D=1, T=4, seed=13)
    off, _ = run(S, "gru", xs, states, layers, lens)
    np.testing.assert_array_equal(run(S, "gru", xs, states, layers, lens, 0.5, False, 3)[0], off)  # inference
    np.testing.assert_array_equal(run(S, "gru", xs, states, layers, lens, 0.0, True, 3)[0], off)  # p = 0
    a, _ = run(S, "gru", xs, states, layers, lens, 0.5, True, 3)
    np.testing.assert_array_equal(a, run(S, "gru", xs, states, layers, lens, 0.5, True, 3)[0])  # same seed
    other_seed, _ = run(S, "gru", xs, states, layers, lens, 0.5, True, 4)
    assert not np.array_equal(a, off) and not np.array_equal(a, other_seed)
    # one layer: nothing between layers, so training changes nothing
    one = [layers[0]]
    s1 = [s[:1] for s in states]
    np.testing.assert_array_equal(run(S, "gru", xs, s1, one, lens, 0.5, True, 3)[0],
                                  run(S, "gru", xs, s1, one, lens)[0])


def test_float32_and_inputs_untouched():
    xs, states, layers, lens, cots = problem("lstm", P=2, dtype=np.float32, seed=17)
    before = [xs.copy(), *(s.copy() for s in states), *(c.copy() for c in cots)]
    ys, fin = run(S, "lstm", xs, states, layers, lens, 0.3, True, 1)
    g = vjp(S, "lstm", xs, states, layers, lens, cots)
    assert ys.dtype == np.float32 and all(f.dtype == np.float32 for f in fin)
    assert g["xs"].dtype == np.float32 and all(v.dtype == np.float32 for v in g["layers"][1][1].values())
    for a, b in zip(before, [xs, *states, *cots]):
        np.testing.assert_array_equal(a, b)


def test_refused_inputs():
    xs, (h0,), layers, lens, _ = problem("rnn", L=2, D=2, seed=19)
    f = S.rnn_stack
    check_refused(f, (xs, h0, [], lens), ValueError, "rnn_stack", "'layers'", "non-empty")
    check_refused(f, (xs, h0, [layers[0], layers[1][:1]], lens), ValueError, "'layers[1]'", "same number")
    check_refused(f, (xs, h0, [layers[0], [{}, {}]], lens), ValueError, "'layers[1][0]'", "missing")
    check_refused(f, (xs, h0[:1], layers, lens), ValueError, "'h0'", "(L, D, B, n_out)")
    check_refused(f, (xs, h0, layers, lens[:2]), ValueError, "'lengths'", "(B,)")
    check_refused(f, (xs, h0, layers, lens + 10), ValueError, "'lengths'", "<= T")
    check_refused(f, (xs, h0, layers, lens * 0), ValueError, "'lengths'", "1 <=")
    check_refused(f, (xs, h0, layers, lens.astype(float)), ValueError, "'lengths'", "integer")
    check_refused(f, (xs, h0, layers, lens, 1.0, True, 0), ValueError, "'dropout'", "[0, 1)")
    check_refused(f, (xs, h0, layers, lens, -0.1, True, 0), ValueError, "'dropout'")
    check_refused(f, (xs, h0, layers, lens, 0.1, "yes", 0), TypeError, "'training'")
    check_refused(f, (xs, h0, layers, lens, 0.1, True, -1), ValueError, "'seed'")
    check_refused(f, (xs[:0], h0, layers, None), ValueError, "'xs'", "T >= 1")
    check_refused(f, (xs[:, :0], h0[:, :, :0], layers, None), ValueError, "'xs'", "B >= 1")
    check_refused(lambda *a: f(*a, activation="sigmoid"), (xs, h0, layers, lens), ValueError, "'activation'")
    bad = [[dict(p) for p in row] for row in layers]
    bad[1][0]["W_xz"] = bad[1][0].pop("W_x")
    check_refused(f, (xs, h0, bad, lens), ValueError, "'layers[1][0]'", "W_x")
    bad = [[dict(p) for p in row] for row in layers]
    bad[0][1]["W_proj"] = np.ones((2, 3))
    check_refused(f, (xs, h0, bad, lens), ValueError, "'W_proj'", "only LSTM")
    xs, (h0, c0), lay, lens, cots = problem("lstm", P=2, seed=19)
    mixed = [lay[0], [{k: v for k, v in p.items() if k != "W_proj"} for p in lay[1]]]
    check_refused(S.lstm_stack, (xs, h0, c0, mixed, lens), ValueError, "'layers")
    check_refused(S.lstm_stack, (xs, h0, c0[..., :2], lay, lens), ValueError, "'c0'", "(L, D, B, n)")
    check_refused(S.lstm_stack_vjp, (xs, h0, c0, lay, lens, cots[0][..., :3], None, None), ValueError, "'d_ys'")
    check_refused(S.lstm_stack_vjp, (xs, h0, c0, lay, lens, None, cots[2], None), ValueError, "'d_hT'")


def _flat(o):
    if isinstance(o, dict):
        return [z for k in sorted(o) for z in _flat(o[k])]
    if isinstance(o, (list, tuple)):
        return [z for v in o for z in _flat(v)]
    return [np.asarray(o, dtype=np.float64)]


def test_mutants_are_real_bugs():
    """Each mutant of tests/mutants/stacked.py differs from the reference on a problem that exposes every bug
    (lengths 1 .. T, D = 2, L = 2, training dropout, an LSTM projection with P = n)."""
    from mutants import stacked as M
    from mutants.base import BASE

    assert len(M.MUTANTS) >= 9
    for name, mut in M.MUTANTS.items():
        (cap,) = mut.mutated
        kind = cap.split("_")[0]
        xs, states, layers, lens, cots = problem(kind, L=2, D=2, T=5, n=3, P=3 if kind == "lstm" else None,
                                                 seed=23)
        if cap.endswith("_vjp"):
            args = (xs, *states, layers, lens, *cots)
        else:
            args = (xs, *states, layers, lens, 0.5, True, 3)
        got, want = _flat(getattr(mut.target, cap)(*args)), _flat(getattr(BASE, cap)(*args))
        diff = max(float(np.max(np.abs(a - b))) for a, b in zip(got, want))
        assert diff > 1e-3, f"{name}: {mut.bug} gives the reference's result (max difference {diff})"


@pytest.mark.parametrize("kind,P", CASES)
def test_matches_the_oracle(kind, P):
    """The stacktruth oracle (derivations/oracle_stacked.py, float64, per sequence) with the contract's masks
    (one np.random.default_rng(seed), one block per layer 1 .. L-1): forward with dropout, and the VJP."""
    from dlproof.derivations import oracle_stacked as O

    xs, states, layers, lens, cots = problem(kind, L=2, D=2, T=4, n=3, P=P, seed=71)
    T, B, _ = xs.shape
    rng = np.random.default_rng(4)
    masks = [(rng.random((T, B, 2 * (P or 3))) < 0.7).astype(float)]
    _close_all(run(S, kind, xs, states, layers, lens, 0.3, True, 4), O.stack_forward(kind, xs, states, layers, lens,
                                                                                    masks, 0.3))
    _close_all(vjp(S, kind, xs, states, layers, lens, cots),
               O.stack_vjp(kind, xs, states, layers, lens, cots[0], tuple(cots[1:])))


def _close_all(got, want):
    a, b = _flat(got), _flat(want)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-13)


def test_projected_step_is_the_projection_cell():
    """One step of the stack's projected LSTM layer equals the projection chapter's `lstm_proj_cell`."""
    from dlproof.impl.numpy_ref import projection as PJ

    xs, (h0, c0), layers, _, _ = problem("lstm", L=1, D=1, T=1, n=4, P=2, lengths=False, seed=79)
    _, (h, c) = run(S, "lstm", xs, [h0, c0], layers, None)
    h1, c1 = PJ.lstm_proj_cell(xs[0], h0[0, 0], c0[0, 0], layers[0][0])
    np.testing.assert_allclose(h[0, 0], h1, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(c[0, 0], c1, rtol=1e-14, atol=1e-15)
