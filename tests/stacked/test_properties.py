"""The stacked properties pass on a correct target built from the oracle (float64 and float32, both padded-output
conventions) and fail, naming the likely bug, on broken versions of it."""
from __future__ import annotations

import numpy as np
import pytest

from dlproof.derivations import oracle_stacked as O
from dlproof.properties import harness
from dlproof.properties import stacked as S
from dlproof.properties.assertions import PropertyFailure
from dlproof.properties.registry import all_properties
from dlproof.target import Target

KINDS = ("rnn", "lstm", "gru")
CONV = {"rnn": "tanh", "gru": "reset_after", "lstm": None}


def _masks(kind, xs, states, layers, lengths, p, training, seed):
    """Inverted-dropout masks for the inputs of layers 1..L-1, drawn from ``seed``."""
    if not training or p == 0 or len(layers) == 1:
        return None
    T, B, _ = xs.shape
    width = len(layers[0]) * O.out_size(layers[0][0])
    rng = np.random.default_rng(seed)
    return [(rng.random((T, B, width)) >= p).astype(np.float64) for _ in layers[1:]]


def oracle_target(name="oracle-stack", dtype="float64", bug=None, padded_output="zero", **conventions):
    """A target of the six stack capabilities from oracle_stacked (``bug``: one of S.BUG_TEXT's semantics)."""
    dt = np.dtype(dtype)

    def make(kind):
        def fwd(xs, *rest):
            states, (layers, lengths, p, training, seed) = rest[:O.n_states(kind)], rest[O.n_states(kind):]
            masks = _masks(kind, xs, states, layers, lengths, p, training, seed)
            if bug == "dropout_inference" and p > 0 and len(layers) > 1:
                masks = _masks(kind, xs, states, layers, lengths, p, True, seed)
            if bug in (None, "dropout_after_last", "dropout_inference") or masks is not None:
                ys, fin = O.stack_forward(kind, xs, states, layers, lengths, masks, p, padded_output, CONV[kind])
            else:
                ys, fin = S.variant_forward(kind, xs, states, layers, lengths, CONV[kind], bug, padded_output)
            if bug == "dropout_after_last" and training and p > 0:
                ys = ys * (np.random.default_rng(seed + 1).random(ys.shape) >= p) / (1 - p)
            fin = tuple(f.astype(dt) for f in fin)
            return ys.astype(dt), (fin if kind == "lstm" else fin[0])

        def vjp(xs, *rest):
            k = O.n_states(kind)
            states, (layers, lengths, d_ys), d_f = rest[:k], rest[k:k + 3], rest[k + 3:]
            g = O.stack_vjp(kind, xs, states, layers, lengths, d_ys, d_f, padded_output, CONV[kind])
            if bug == "vjp_wproj":  # a projection gradient off by a relative 1e-6
                for lay in g["layers"]:
                    for p in lay:
                        if "W_proj" in p:
                            p["W_proj"] = p["W_proj"] * (1 + 1e-6)
            if bug == "vjp_padded" and lengths is not None:
                g["xs"] = g["xs"] + 1e-3 * (np.arange(xs.shape[0])[:, None, None] >= np.asarray(lengths)[None, :, None])
            return {"xs": g["xs"].astype(dt), **{s: g[s].astype(dt) for s in S.STATE_NAMES[kind]},
                    "layers": [[{n: v.astype(dt) for n, v in p.items()} for p in lay] for lay in g["layers"]]}
        return fwd, vjp

    caps = {}
    for kind in KINDS:
        caps[f"{kind}_stack"], caps[f"{kind}_stack_vjp"] = make(kind)
    conventions = dict(conventions, padded_output=padded_output)
    return Target(name=name, dtype=dtype, conventions=conventions, **caps)


def _run(pid, target, tmp_path):
    return harness.run(all_properties()[pid], target, target.name, profile="ci", report_dir=tmp_path)


FAST = [f"stack.{k}.{w}" for k in KINDS for w in ("forward", "padding", "batch_split", "dropout.inference",
                                                   "dropout.last_layer", "dropout.between_layers")]


@pytest.mark.parametrize("pid", ["stack.lstm.padding"] + [pytest.param(f"stack.lstm.{w}", marks=pytest.mark.slow) for w in (
    "forward", "vjp", "batch_split", "dropout.between_layers")])
def test_properties_pass_on_the_oracle_target(pid, tmp_path):
    row = _run(pid, oracle_target(), tmp_path)
    assert row["verdict"] == "pass", row


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("pad", ["zero", "carry"])
@pytest.mark.parametrize("pid", FAST + [f"stack.{k}.vjp" for k in KINDS])
def test_every_property_passes_on_the_oracle_target(pid, dtype, pad, tmp_path):
    row = _run(pid, oracle_target(f"oracle-stack.{dtype}.{pad}", dtype, padded_output=pad), tmp_path)
    assert row["verdict"] == "pass", row


MUTANTS = [  # (bug, property, kind, words in likely_bug)
    ("leak_final", "forward", "gru", "leak into the final state"),
    ("reverse_padded", "padding", "rnn", "reversed over the padded length"),
    ("dropout_after_last", "dropout.last_layer", "lstm", "after the last layer"),
    ("preactivation", "forward", "rnn", "pre-activation"),
    pytest.param("project_late", "forward", "lstm", "projection is applied only to the outputs", marks=pytest.mark.slow),
    pytest.param("finals_order", "forward", "gru", "(direction, layer) order", marks=pytest.mark.slow),
    ("dropout_inference", "dropout.inference", "rnn", "at inference"),
]


@pytest.mark.parametrize("bug, what, kind, words", MUTANTS)
def test_a_broken_target_fails_with_the_likely_bug(bug, what, kind, words, tmp_path):
    with pytest.raises(PropertyFailure) as info:
        _run(f"stack.{kind}.{what}", oracle_target(f"broken-{bug}", bug=bug), tmp_path)
    assert info.value.part == "forward" and words in (info.value.likely_bug or ""), str(info.value)


@pytest.mark.parametrize("bug, pid", [("leak_final", "stack.gru.batch_split"),
                                      ("dropout_after_last", "stack.rnn.dropout.between_layers"),
                                      ("reverse_padded", "stack.lstm.batch_split")])
def test_the_other_properties_can_fail(bug, pid, tmp_path):
    with pytest.raises(PropertyFailure) as info:
        _run(pid, oracle_target(f"broken-{bug}", bug=bug), tmp_path)
    assert info.value.part == "forward" and "but should" in str(info.value)


@pytest.mark.slow
def test_a_slightly_wrong_projection_gradient_fails_backward(tmp_path):
    with pytest.raises(PropertyFailure) as info:
        _run("stack.lstm.vjp", oracle_target("broken-vjp-proj", bug="vjp_wproj"), tmp_path)
    assert info.value.part == "backward" and "W_proj" in str(info.value)


@pytest.mark.slow
def test_nonzero_gradient_at_padded_inputs_fails_backward(tmp_path):
    with pytest.raises(PropertyFailure) as info:
        _run("stack.gru.vjp", oracle_target("broken-vjp", bug="vjp_padded"), tmp_path)
    assert info.value.part == "backward" and "padded" in str(info.value)


def test_a_padded_output_convention_mismatch_is_named(tmp_path):
    """A target that pads with zeros but declares 'carry' (as Keras' Bidirectional under its default masking)."""
    zero = oracle_target("zero-pads")
    target = oracle_target("declares-carry", padded_output="carry")
    target = Target(name="declares-carry", dtype="float64", conventions=dict(target.conventions),
                    **{c: getattr(zero, c) for c in ("rnn_stack", "rnn_stack_vjp")})
    with pytest.raises(PropertyFailure) as info:
        _run("stack.rnn.padding", target, tmp_path)
    assert "follow padded_output='zero'" in (info.value.likely_bug or ""), str(info.value)


def test_restrictions_narrow_the_strategy():
    """projection_size draws P < n only; stack_projection / stack_lengths draw none."""
    from hypothesis import given, settings

    t = oracle_target(restrictions={"projection_size": "smaller_than_hidden", "stack_lengths": False})

    @settings(max_examples=30, database=None, deadline=None)
    @given(S.stack_problems("lstm", t))
    def check(problem):
        assert problem["P"] < problem["n"] or problem["P"] == 0
        assert S.lengths_of(problem) is None

    check()
