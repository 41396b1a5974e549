"""The GRU forward's error model under reset_before: b_xn and b_hn are two terms of the candidate's affine sum, each
charged with its own magnitude. The example is the one the 20-seed sweep raised against the correct NumPy reference
(numpy.gru_reset_before, seed 6, gru.forward at 1.05 x tolerance): b_xn = 62.12 and b_hn = -62.18 cancel to -0.06,
and a model that charged the rounded sum b_xn + b_hn as one bias saw a 124 -> 0.06 smaller magnitude."""
import mpmath
import numpy as np

from dlproof.derivations import oracle_gru as O
from dlproof.impl.numpy_ref import gru as G
from dlproof.properties import errmodel as em
from dlproof.properties import tolerances as tol

P = {
    "W_xr": np.array([[0.6057281463702612, -0.30556481972072136, 0.08138640976758792]]),
    "W_hr": np.array([[-0.12802884910283735]]), "b_r": np.array([5.1508042913508385]),
    "W_xz": np.array([[0.43287467721447104, -0.22965847462075334, 0.035473181466439366]]),
    "W_hz": np.array([[-0.010624958389218522]]), "b_z": np.array([-30.84067122430126]),
    "W_xn": np.array([[0.20603549513918495, 0.13034398328228453, 0.13082456487920133]]),
    "W_hn": np.array([[0.05223705556770397]]),
    "b_xn": np.array([62.121725997685985]), "b_hn": np.array([-62.18136704409395]),
}
XS = np.array([[[-0.11519064552886345, -0.11720008684703663, -0.16726079542407565]]])
H0 = np.array([[-0.2217550445294076]])


def _exact_h1() -> float:
    """h_1 in 60-digit arithmetic (reset_before: n = tanh(W_xn x + b_xn + b_hn + W_hn (r h)))."""
    with mpmath.workdps(60):
        mp = {k: [[mpmath.mpf(float(v)) for v in row] for row in np.atleast_2d(a)] for k, a in P.items()}
        x = [mpmath.mpf(float(v)) for v in XS[0, 0]]
        h = mpmath.mpf(float(H0[0, 0]))

        def dot(w, v):
            return mpmath.fsum(a * b for a, b in zip(w[0], v))

        def sig(a):
            return 1 / (1 + mpmath.exp(-a))

        r = sig(dot(mp["W_xr"], x) + mp["W_hr"][0][0] * h + mp["b_r"][0][0])
        z = sig(dot(mp["W_xz"], x) + mp["W_hz"][0][0] * h + mp["b_z"][0][0])
        n = mpmath.tanh(dot(mp["W_xn"], x) + mp["b_xn"][0][0] + mp["b_hn"][0][0] + mp["W_hn"][0][0] * r * h)
        return float(z * h + (1 - z) * n)


def _oracle_h1() -> float:
    hs, _ = O.gru_forward(XS, H0, P, variant="reset_before")
    return float(np.asarray(hs, np.float64).ravel()[0])


def test_the_reference_and_the_oracle_are_within_the_model_where_the_candidate_biases_cancel():
    """gru.forward compares the target with the float64 oracle: the tolerance covers both roundings."""
    hs, _ = G.gru(XS, H0, P, variant="reset_before")
    t_hs, _ = tol.gru_forward_tol(XS, H0, P, "reset_before", "float64")
    exact = _exact_h1()
    assert abs(float(hs[0, 0, 0]) - exact) <= t_hs[0, 0, 0] and abs(_oracle_h1() - exact) <= t_hs[0, 0, 0]
    assert abs(float(hs[0, 0, 0]) - _oracle_h1()) <= t_hs[0, 0, 0]


def test_charging_the_rounded_bias_sum_as_one_term_is_what_raised_the_false_alarm():
    """The old model: affine(..., b_xn + b_hn) sees |b| = 0.06; the two-term one sees 124."""
    ex = tol.exact_in("float64")
    x, W, h, Wh = ex(XS[0]), ex(P["W_xn"]), ex(H0), ex(P["W_hn"])
    one = em.affine(x, W, h, Wh, ex(P["b_xn"]) + ex(P["b_hn"]))
    two = em.affine(x, W, h, Wh, ex(P["b_xn"]), ex(P["b_hn"]))
    assert np.isclose(one.v, two.v, rtol=0, atol=1e-13)
    assert two.e.item() > 100 * one.e.item()
    hs, _ = G.gru(XS, H0, P, variant="reset_before")
    assert abs(float(hs[0, 0, 0]) - _oracle_h1()) > one.e.item()  # the oracle's 62-sized partial sum rounds by more
