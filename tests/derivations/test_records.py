"""Every derivation carries its id, LaTeX, citation and a status computed from exact checks."""
import json
import os
import subprocess
import sys

import pytest

from dlproof.derivations import record, records

#: what issue 15 requires to be proved for every size (symbolic n, m, T, L, number of tensors), and the
#: records whose status is decided by the mathematics they rest on (cited lemmas, refutations, definitions)
REQUIRED = {
    "proved": ["act.sigmoid.derivative", "act.tanh.derivative", "act.relu.derivative", "act.sigmoid.range",
               "act.tanh.range", "act.relu.range", "act.tanh_via_sigmoid", "act.sigmoid.gamma", "act.tanh.gamma",
               "act.relu.gamma", "rnn.cell.jacobian_h", "rnn.cell.jacobian_x", "rnn.cell.jacobian_b",
               "rnn.cell.jacobian_W_h", "rnn.cell.jacobian_W_x", "rnn.bptt.jacobian_product",
               "rnn.bptt.source_form_denominator", "rnn.param_count",
               "clip.norm.direction", "clip.norm.norm", "clip.norm.identity_below", "clip.norm.idempotent",
               "clip.global_norm.concatenation", "clip.norm.eps.direction", "clip.norm.eps.norm",
               "clip.norm.eps.identity_below", "clip.per_tensor.norm",
               "lstm.gate.partials", "lstm.cell.jacobian_h", "lstm.cell.jacobian_x", "lstm.cell.jacobian_c",
               "lstm.cell.jacobian_weights", "lstm.state.jacobian", "lstm.cec.product", "lstm.state.c_to_c_full",
               "lstm.state.chain", "lstm.gates.range", "lstm.param_count", "lstm.cell.dc_dc_prev",
               "gru.cell.jacobian_h.reset_after", "gru.cell.jacobian_h.reset_before", "gru.cell.jacobian_x.reset_after",
               "gru.cell.jacobian_x.reset_before", "gru.cell.jacobian_weights.reset_after",
               "gru.cell.jacobian_weights.reset_before", "gru.convexity", "gru.bounded_state", "gru.param_count",
               "gru.lstm_param_ratio", "bi.backward_is_reversed_forward", "bi.final_states",
               "attn.softmax.stable", "attn.softmax.shift_invariance", "resnet.chain.product",
               "conv.receptive_field"],
    "proved-from-lemmas": ["rnn.bptt.norm_bound", "rnn.bptt.vanishing_sufficient", "rnn.bptt.exploding_necessary",
                           "resnet.no_vanishing.condition", "uat.relu.error_bound", "bi.full_dependence"],
    "refuted": ["rnn.claim.exploding_norm_gt_1", "rnn.bptt.source_form_numerator_reading",
                "clip.value.not_direction", "clip.norm.eps.not_idempotent", "clip.per_tensor.not_global_direction",
                "lstm.state.chain_not_blockwise", "lstm.claim.gates_no_vanishing", "gru.variants_differ",
                "lstm.claim.forget_near_one_preserves_gradient", "uat.relu.units.free_kinks.refuted"],
    "definition": ["rnn.cell.forward", "rnn.bptt.unroll", "clip.norm.rule", "clip.norm.eps.rule", "clip.value.rule",
                   "lstm.cell.forward", "gru.cell.forward.reset_after", "gru.cell.forward.reset_before", "bi.output_layout"],
}


@pytest.mark.parametrize("status,rid", [(s, r) for s, ids in REQUIRED.items() for r in ids])
def test_required_derivation_has_expected_status(status, rid):
    assert record(rid)["status"] == status, record(rid)["obligations"]


@pytest.mark.parametrize("rid", sorted(records()))
def test_record_is_complete_and_status_follows_obligations(rid):
    rec = records()[rid]
    assert rec["id"] == rid and rec["title"] and rec["latex"].strip()
    assert rec["citation"]["seed"].startswith(("seed §", "seed: 深度学习数学模块")) and rec["citation"]["primary"]
    assert rec["obligations"], "every record carries at least one exact check"
    statuses = {o["status"] for o in rec["obligations"]}
    allowed = {"theorem": ("proved", "proved-from-lemmas", "checked-at-sizes"), "refutation": ("refuted",),
               "definition": ("definition",)}[rec["kind"]]
    assert statuses == {"proved"} and rec["status"] in allowed, rec["obligations"]
    if rec["kind"] == "refutation":
        assert rec["counterexample"] or "ounterexample" in rec["notes"]
    json.dumps(rec)


@pytest.mark.parametrize("rid", sorted(records()))
def test_status_never_claims_more_than_the_obligations_establish(rid):
    """The scope of every obligation is stated; "proved" means every size; checked sizes are listed."""
    rec = records()[rid]
    scope = rec["scope"]
    assert scope["parameters"] is not None, f"{rid}: the record does not declare the sizes it ranges over"
    kinds = [o["scope"]["kind"] for o in rec["obligations"]]
    if scope["parameters"]:
        assert all(k for k in kinds)
    if rec["status"] == "proved":
        assert not scope["lemmas"] and "size" not in kinds and "lemma-check" not in kinds, rec["obligations"]
        assert ("base-case" in kinds) == ("induction-step" in kinds), "an induction needs its base case and its step"
        assert scope["summary"] == "Proved for every size."
    if rec["status"] == "proved-from-lemmas":
        assert scope["lemmas"] and all(lm["reference"] for lm in scope["lemmas"])
        assert "size" not in kinds and scope["summary"].startswith("Proved for every size from the cited lemmas")
    if rec["status"] == "checked-at-sizes":
        assert scope["sizes"] and scope["summary"].startswith("Checked at ")
        for point in scope["sizes"]:
            assert set(point) <= set(scope["parameters"]), (point, scope["parameters"])


def test_a_lemma_id_names_one_lemma():
    seen: dict = {}
    for rid, rec in records().items():
        for lm in rec["scope"]["lemmas"]:
            assert lm["id"].startswith("lemma.") and lm["reference"], (rid, lm)
            assert seen.setdefault(lm["id"], lm) == lm, f"{rid}: lemma {lm['id']} differs from its other uses"


def test_jacobians_name_their_layout():
    for rid in ("rnn.cell.jacobian_h", "rnn.bptt.jacobian_product", "rnn.bptt.source_form_denominator"):
        assert record(rid)["layout"]
    assert "denominator" in record("rnn.bptt.source_form_denominator")["layout"]
    assert "numerator" in record("rnn.bptt.jacobian_product")["layout"]


def test_unknown_id_suggests_close_ids():
    with pytest.raises(KeyError, match="did you mean"):
        record("rnn.bptt.jacobian_prodcut")


def test_warm_path_does_not_import_sympy():
    records()  # warm the cache in this process's cache dir
    from dlproof.derivations import kernels

    kernels()  # warm the kernel module too
    code = ("import sys, dlproof.derivations as d; d.records(); d.kernels(); "
            "assert 'sympy' not in sys.modules, 'sympy imported on the warm path'; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ))
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr


@pytest.mark.slow
def test_concurrent_cold_builds_agree(tmp_path):
    """Three processes build an empty cache at once (as pytest-xdist workers would): same bytes, no temp files."""
    env = dict(os.environ, DLPROOF_CACHE_DIR=str(tmp_path), DLPROOF_SHIPPED_PROOFS="off")
    code = "import dlproof.derivations as d, json; print(len(d.records())); d.kernels()"
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate()[0] for p in procs]
    assert all(p.returncode == 0 for p in procs) and len(set(outs)) == 1
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 2 and not any(f.endswith(".tmp") for f in files), files


# Every record re-derived and re-proved without any cache is CI's step `dlproof derive --reprove` (cold, compared with
# the shipped proofs byte for byte: status, obligations and all); tests/derivations/test_shipped_cache.py tests that
# command. A per-record copy of it here cost 11 % of the default suite and checked less (the statuses only).
