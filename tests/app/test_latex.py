r"""``dlproof derive ID --format latex``: fragments that compile with pdflatex under the documented preamble.

The fast tests check the escaping (specials escaped, ``$...$`` math kept, Unicode mapped, Chinese in
CJKutf8 runs, unknown characters as a visible ``[U+XXXX]`` marker) and that no record needs a marker.
The `latex` test runs a real pdflatex on one document made of EVERY record's fragment, and on the
lecturer's path (fragment + ``dlproof derive --latex-preamble``); it skips without pdflatex unless
DLPROOF_REQUIRE_LATEX=1 (then it fails), as .ci/run sets it after installing Debian's texlive.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from dlproof import cli
from dlproof.book import latex, present
from dlproof.derivations import records

CJK_RUN = re.compile(r"\\begin\{CJK\}\{UTF8\}\{gbsn\}(.*?)\\end\{CJK\}", re.S)


@pytest.fixture(scope="module")
def recs():
    return records()


def _outside_cjk(tex: str) -> str:
    return CJK_RUN.sub("", tex)


@pytest.mark.parametrize("src, expected", [
    ("a_b & 50% #1 {x} ~ ^ \\", r"a\_b \& 50\% \#1 \{x\} \~{} \^{} \textbackslash{}"),
    ("keep $x_i^2 \\le \\|W\\|$ math", r"keep $x_i^2 \le \|W\|$ math"),
    ("‖W‖ ≤ 1, f ∘ g, I ⊗ h", r"\ensuremath{\|}W\ensuremath{\|} \ensuremath{\le} 1, f \ensuremath{\circ} g, "
                              r"I \ensuremath{\otimes} h"),
    ("“quoted” — § 3 · x", r"``quoted'' --- \S{} 3 \textperiodcentered{} x"),
    ("σ and Φ", r"\ensuremath{\sigma} and \ensuremath{\Phi}"),
    ("c̃_t", r"\~{c}\_t"),
    ("`code_x`", r"\texttt{code\_x}"),
    ("a < b | c", r"a \textless{} b \textbar{} c"),
])
def test_text_escapes_and_maps_unicode(src, expected):
    assert latex.text(src) == expected


def test_chinese_goes_into_cjk_runs_and_unknown_characters_into_markers():
    out = latex.text("seed §2 梯度消失，爆炸: x")
    assert out == r"seed \S{}2 \begin{CJK}{UTF8}{gbsn}梯度消失，爆炸\end{CJK}: x"
    assert latex.text("a ☃ b") == r"a \texttt{[U+2603]} b"
    assert latex.math("‖x‖ ≤ 1") == r"\|x\| \le 1"


def test_every_record_fragment_is_ascii_outside_cjk_runs(recs):
    bad = {}
    for rid, rec in recs.items():
        frag = latex.derivation_fragment(rec)
        rest = _outside_cjk(frag)
        odd = sorted({c for c in rest if ord(c) > 127})
        if odd or "[U+" in frag:
            bad[rid] = odd or "marker"
    assert not bad, f"characters pdflatex would reject (map them in dlproof/book/latex.py): {bad}"


def test_fragment_shows_status_scope_title_and_citation(recs):
    for rid, rec in recs.items():
        frag = latex.derivation_fragment(rec)
        assert rf"\label{{dlproof:{rid}}}" in frag
        assert latex.text(present.display_title(rec)) in frag
        assert r"\dlstatus{%s}" % present.status_label(rec["status"]) in frag
        summary = present.scope_of(rec)["summary"]
        assert (r"\textit{Scope:} " + latex.text(summary)) in frag if summary else "Scope:" not in frag
        for lm in present.scope_of(rec)["lemmas"]:
            assert latex.text(lm["id"]) in frag
        assert frag.count(r"\textit{Source:} ") == 1 and "seed: seed" not in frag
        if rec["kind"] == "refutation":
            assert "Claim: " in frag


def test_cli_latex_preamble_and_standalone(capsys):
    assert cli.main(["derive", "--latex-preamble"]) == 0
    assert capsys.readouterr().out == latex.PREAMBLE
    assert cli.main(["derive", "rnn.cell.jacobian_h", "--format", "latex", "--standalone"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(latex.PREAMBLE) and out.rstrip().endswith(r"\end{document}")
    assert r"\label{dlproof:rnn.cell.jacobian_h}" in out


# --------------------------------------------------------------------------------------------------
# a real pdflatex


def _pdflatex() -> str:
    exe = shutil.which("pdflatex")
    if exe is None:
        if os.environ.get("DLPROOF_REQUIRE_LATEX") == "1":
            pytest.fail("DLPROOF_REQUIRE_LATEX=1 but pdflatex is not on PATH")
        pytest.skip("pdflatex is not on PATH (Debian: texlive-latex-base texlive-latex-recommended "
                    "latex-cjk-chinese latex-cjk-chinese-arphic-gbsn00lp)")
    return exe


def _compile(exe: str, tmp_path, name: str, tex: str) -> str:
    (tmp_path / f"{name}.tex").write_text(tex, encoding="utf-8")
    res = subprocess.run([exe, "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"], cwd=tmp_path,
                         capture_output=True, text=True, errors="replace", timeout=300)
    log = (tmp_path / f"{name}.log").read_text(encoding="utf-8", errors="replace") \
        if (tmp_path / f"{name}.log").exists() else res.stdout
    errors = [ln for ln in log.splitlines() if ln.startswith("!")]
    assert res.returncode == 0 and not errors, f"pdflatex failed on {name}.tex: {errors[:5]}\n{log[-3000:]}"
    assert (tmp_path / f"{name}.pdf").stat().st_size > 1000
    return log


@pytest.mark.latex
def test_every_record_compiles_with_pdflatex(tmp_path, recs):
    exe = _pdflatex()
    frags = [latex.derivation_fragment(recs[rid]) for rid in present.reading_order(recs)]
    log = _compile(exe, tmp_path, "all", latex.document(frags))
    assert "Missing character" not in log
    m = re.search(r"Output written on all\.pdf \((\d+) pages?", log)
    assert m and int(m.group(1)) >= len(recs) // 4, "the document is suspiciously short"


@pytest.mark.latex
def test_the_lecturers_path_compiles(tmp_path, capsys):
    """dlproof derive ID --format latex > x.tex, wrapped in the printed preamble, compiles."""
    exe = _pdflatex()
    assert cli.main(["derive", "rnn.cell.jacobian_h", "--format", "latex"]) == 0
    fragment = capsys.readouterr().out
    assert cli.main(["derive", "--latex-preamble"]) == 0
    preamble = capsys.readouterr().out
    _compile(exe, tmp_path, "x", preamble + "\\begin{document}\n" + fragment + "\\end{document}\n")


def test_text_in_math_has_no_bare_underscore(recs):
    """pdflatex rejects a bare _ inside \\text{...} (the ids of other records are written \\_ there)."""
    bad = []
    for rid, rec in recs.items():
        for latex_src in [rec["latex"], *rec["steps"]]:
            for m in re.finditer(r"\\text\{([^{}]*)\}", latex_src):
                if re.search(r"(?<!\\)_", m.group(1)):
                    bad.append((rid, m.group(0)))
    assert not bad, bad
