"""dlproof.testing: assert_conforms on correct, broken, raising and empty targets; property selection; the
README's copy-paste example is the examples/ file (its run, which needs torch, is in test_testing_api_torch.py)."""
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from dlproof.impl.targets import numpy_target
from dlproof.properties import results
from dlproof.properties.registry import all_properties
from dlproof.properties.replay import replay
from dlproof.target import Target
from dlproof.testing import ConformanceError, assert_conforms, conformance_params, select_properties

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "test_with_dlproof.py"
BEGIN, END = "<!-- testing-example: begin -->", "<!-- testing-example: end -->"
NUMPY = numpy_target("float64")
FAST = ["lstm.cell.forward", "gru.cell.forward"]


def _swapped_gates(x, h, c, p):
    """An LSTM cell that reads the input gate's weights as the forget gate's and back (a gate-order bug)."""
    q = dict(p)
    for a, b in (("W_xi", "W_xf"), ("W_hi", "W_hf"), ("b_i", "b_f")):
        q[a], q[b] = p[b], p[a]
    return NUMPY.lstm_cell(x, h, c, q)


SWAPPED = replace(NUMPY, name="numpy with i and f swapped in lstm_cell", lstm_cell=_swapped_gates)
SPEC = "app.test_testing_api:SWAPPED"  # tests/ is on sys.path (tests/conftest.py)


def test_a_correct_target_passes_and_its_report_is_written(tmp_path):
    before = len(results.ROWS)
    report = assert_conforms(NUMPY, properties=FAST, report_dir=tmp_path)
    assert [(r["property"], r["verdict"]) for r in report["results"]] == [(p, "pass") for p in sorted(FAST)]
    assert all(r["examples"] > 0 for r in report["results"])
    run = tmp_path / "runs" / report["run"]["id"]
    assert (run / "correctness.json").is_file() and (tmp_path / "correctness.md").is_file()
    assert len(results.ROWS) == before  # in-process rows stay out of a pytest session's plugin report


def test_a_broken_target_fails_naming_property_part_likely_bug_and_repro(tmp_path):
    with pytest.raises(ConformanceError) as info:
        assert_conforms(SWAPPED, properties=["lstm.cell.forward", "gru.cell.forward"], report_dir=tmp_path,
                        repro_spec=SPEC)
    err = info.value
    assert isinstance(err, AssertionError)  # pytest shows it as a plain test failure
    assert [r["property"] for r in err.failures] == ["lstm.cell.forward"]  # the GRU still passes
    row = err.failures[0]
    text = str(err)
    assert row["verdict"] == "fail" and row["part"] == "forward"
    assert "1 of 2 checked properties did not pass" in text
    assert f"{SPEC} :: lstm.cell.forward (fail)" in text and "part: forward" in text
    assert row["repro"]["command"] in text and f"--target {SPEC}" in row["repro"]["command"]
    npz = Path(row["repro"]["npz"])
    assert npz.is_file() and npz.parent.parent == tmp_path / "runs" / err.report["run"]["id"]
    # the saved example replays: the failure reproduces on the broken target, the built-in passes it
    assert replay(npz, SPEC)["verdict"] == "fail" and replay(npz, "numpy")["verdict"] == "pass"
    assert "i and f exchanged" in row["likely_bug"] and row["likely_bug"] in text  # dlproof.properties.diagnose


def test_an_in_process_failure_without_repro_spec_says_how_to_replay(tmp_path):
    with pytest.raises(ConformanceError, match=r"checked in this process: to replay, give --target a module:factory"):
        assert_conforms(SWAPPED, properties=["lstm.cell.forward"], report_dir=tmp_path)


def test_a_target_that_raises_gives_an_error_row_and_the_others_still_run(tmp_path):
    def raises(*args):
        raise RuntimeError("boom")

    target = replace(NUMPY, name="numpy whose gru_cell raises", gru_cell=raises)
    with pytest.raises(ConformanceError, match=r"gru\.cell\.forward \(error\): gru_cell raised RuntimeError: boom") \
            as info:
        assert_conforms(target, properties=FAST, report_dir=tmp_path)
    verdicts = {r["property"]: r["verdict"] for r in info.value.report["results"]}
    assert verdicts == {"gru.cell.forward": "error", "lstm.cell.forward": "pass"}


def test_nothing_applicable_is_an_error_not_a_silent_pass(tmp_path):
    only_rnn = Target(name="rnn cell only", dtype="float64", rnn_cell=NUMPY.rnn_cell)
    with pytest.raises(ConformanceError, match=r"nothing was checked: none of the 2 selected properties applies.*"
                                               r"target lacks \['gru_cell'\]; target lacks \['lstm_cell'\]"):
        assert_conforms(only_rnn, properties=FAST, report_dir=tmp_path)


def test_a_spec_selects_exactly_the_chosen_ids_in_the_runner():
    from dlproof.runner import select
    from dlproof.testing import _exact

    ids = list(all_properties())
    assert "bi.lstm.forward" in select(ids, "lstm.forward")  # a plain -k term is a substring...
    assert select(ids, ",".join(_exact(p) for p in ["lstm.forward", "gru.vjp"])) == ["lstm.forward", "gru.vjp"]


def test_a_spec_that_does_not_load_is_named_and_nothing_is_written(tmp_path):
    from dlproof.loader import TargetLoadError

    with pytest.raises(TargetLoadError, match=r"unknown target 'nump'.*did you mean 'numpy'"):
        assert_conforms("nump", properties=FAST, report_dir=tmp_path / "r")
    assert not (tmp_path / "r").exists()


@pytest.mark.slow  # a child process (~1.5 to 3 s)
def test_a_spec_runs_in_the_supervised_child_as_dlproof_conform(tmp_path):
    # "lstm.forward" exactly: as a -k term it would also select bi.lstm.forward (a substring)
    report = assert_conforms("numpy", properties=["lstm.forward"], report_dir=tmp_path)
    rows = [(r["target"], r["property"], r["verdict"]) for r in report["results"]]
    assert rows == [("numpy", "lstm.forward", "pass")]
    assert report["run"]["status"] == "complete" and "assert_conforms" in report["provenance"]["command"]
    assert (tmp_path / "runs" / report["run"]["id"] / "correctness.json").is_file()


def test_property_selection_by_id_pattern_and_chapter():
    ids = list(all_properties())
    assert select_properties(None) == ids
    assert select_properties("lstm.vjp") == ["lstm.vjp"]
    assert select_properties(["gru.*"]) == [p for p in ids if p.startswith("gru.")]
    bi = select_properties(["bidirectional"])
    assert bi == select_properties(["bi"]) and bi and all(p.startswith("bi.") for p in bi)
    conv = select_properties(["convolution"])  # the chapter's capabilities, whatever the id prefix
    assert {"conv1d", "conv2d"} <= {p.split(".")[0] for p in conv}
    assert select_properties(["lstm.vjp", "lstm.*"]) == [p for p in ids if p.startswith("lstm.")]  # no duplicates


@pytest.mark.parametrize("properties, message", [
    (["lstm.cel.forward"], r"'lstm.cel.forward' is no property id, chapter or matching pattern; "
                           r"did you mean 'lstm.cell.forward'"),
    (["nothing.*"], r"'nothing.\*' is no property id, chapter or matching pattern"),
    ([], r"the list is empty; pass None"),
    (["lstm.vjp", ""], r"every entry should be a non-empty string"),
])
def test_a_selection_that_selects_nothing_is_a_clear_error(properties, message):
    with pytest.raises(ValueError, match=message):
        assert_conforms(NUMPY, properties=properties)


@pytest.mark.parametrize("kw, message", [
    ({"profile": "fast"}, r"profile: expected one of"),
    ({"seed": -1}, r"seed: expected None or an integer"),
    ({"repro_spec": ""}, r"repro_spec: expected a non-empty spec string"),
    ({"repro_spec": "numpy", "target": "numpy"}, r"repro_spec: only for a Target or a live object"),
])
def test_bad_arguments_are_named(kw, message):
    kw = {"target": NUMPY, **kw}
    with pytest.raises(ValueError, match=message):
        assert_conforms(properties=FAST, **kw)


def test_an_object_that_is_no_target_is_a_type_error():
    with pytest.raises(TypeError, match=r"expected a spec string .* got ndarray"):
        assert_conforms(np.zeros(3), properties=FAST)


def test_conformance_params_one_per_property_skipping_what_the_target_lacks():
    plain = conformance_params(["lstm.cell.forward", "rnn.cell.forward"])
    assert [p.id for p in plain] == ["rnn.cell.forward", "lstm.cell.forward"] and not any(p.marks for p in plain)
    only_rnn = Target(name="rnn cell only", dtype="float64", rnn_cell=NUMPY.rnn_cell)
    params = conformance_params(["lstm.cell.forward", "rnn.cell.forward"], target=only_rnn)
    skipped = {p.id: p.marks[0].kwargs["reason"] for p in params if p.marks}
    assert skipped == {"lstm.cell.forward": "rnn cell only does not provide ['lstm_cell']"}


def _readme_block():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    if BEGIN not in readme:
        return None
    block = readme.split(BEGIN, 1)[1].split(END, 1)[0]
    m = re.fullmatch(r"\s*```python\n(.*?)```\s*", block, flags=re.S)
    assert m, "the README's testing example is not one ```python block between its markers"
    return m.group(1)


def test_the_readme_example_is_the_examples_file():
    block = _readme_block()
    if block is None:
        pytest.skip("README.md has no testing-example markers yet")
    assert block.strip() == EXAMPLE.read_text(encoding="utf-8").strip()
