"""reports/book.html: the derivations book and the claims ledger as ONE self-contained HTML file.

No JavaScript, no CDN, no external resource: math is converted offline to MathML (MathML Core, which
current browsers lay out natively) with ``latex2mathml``; figures are embedded as base64 ``data:`` URIs.
The output is deterministic: the same inputs give the same bytes (no timestamps, fixed orders). This
module renders; the style sheet is ``book.css`` (package data) and the LaTeX -> MathML conversion with its
fixes over latex2mathml is `dlproof.book.mathml`.

- `render_book(records, ledger, figures, figures_dir)` -> the HTML text;
- `write_book(path, records, ledger, figures, figures_dir)` -> writes it atomically;
- `conversion_failures(records, ledger, figures)` -> ``[(where, latex, error)]``: every piece of LaTeX
  that could not be converted (it is shown in the book as ``<code class="latex-error">``).

Inputs: ``records`` as returned by `dlproof.derivations.records()`; ``ledger`` a list of claim dicts
(id, section, quote, english, verdict, conditions, explanation, derivations, properties, measurement,
counterexample, literature, problems); ``figures`` a manifest ``{name: {png, caption, derivations,
checks}}`` whose PNG files lie in ``figures_dir``. Text fields may hold inline math as ``$...$``
(display math as ``$$...$$``); everything else is escaped.
"""
from __future__ import annotations

import base64
import html
import json
import re
from importlib.resources import files
from pathlib import Path

from dlproof.atomic import write_atomic

from . import present
from .mathml import ConversionError, display_pieces, latex_to_mathml

#: the book's style sheet (dlproof/book/book.css, package data), inlined in a <style> element
CSS = "\n" + files("dlproof.book").joinpath("book.css").read_text(encoding="utf-8")

VERDICTS = {
    "proved": "proved in general by the derivations cited",
    "proved-under-conditions": "true under the conditions listed, false without them",
    "proved-from-lemmas": "proved in general from cited lemmas (named in the derivations)",
    "checked-at-sizes": "its evidence is checked at stated sizes only, not proved for every size",
    "refuted": "false as stated: a derivation gives a counterexample",
    "measured": "an empirical statement, checked by a measurement",
    "definition": "a definition or naming convention, nothing to prove",
    "not-a-mathematical-claim": "advice or history, outside what mathematics can check",
    "evidence-missing": "no derivation or measurement in this project settles it yet",
}
STATUSES = present.STATUSES



# --------------------------------------------------------------------------------------------------
# text with $...$ math

_SEGMENT = re.compile(
    r"(?P<code>`[^`\n]+`)"
    r"|\$\$(?P<dmath>.+?)\$\$"
    r"|(?<![\\$])\$(?P<imath>[^$\n]+?)(?<!\\)\$"
    r"|(?P<dollar>\\\$)",
    re.S,
)
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_LIST_ITEM = re.compile(r"^\s*[-*]\s+")


def _e(s) -> str:
    return html.escape(str(s), quote=True)


def _md(s: str) -> str:
    """Escape, then turn **bold** into <strong> (placeholders pass through untouched)."""
    return _BOLD.sub(r"<strong>\1</strong>", _e(s))


def _strip_math(s: str) -> str:
    """Plain text for alt attributes: the LaTeX inside $...$ as is, without the dollars."""
    return re.sub(r"\$\$?(.+?)\$\$?", r"\1", str(s), flags=re.S)


def _json(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, indent=1, default=str)


class _Renderer:
    """Renders the pieces of the book and collects every LaTeX conversion failure."""

    def __init__(self):
        self.failures: list[tuple[str, str, str]] = []
        self.math_count = 0

    # math -----------------------------------------------------------------------------------------
    def math(self, latex: str, display: bool, where: str) -> str:
        if display:
            pieces = display_pieces(latex)
            if len(pieces) > 1:
                try:
                    maths = [latex_to_mathml(p, display=True) + ('<span class="br"></span>' if br else "")
                             for p, br in pieces]
                except ConversionError:
                    pass  # convert it whole, below: one failure names the whole formula
                else:
                    self.math_count += len(maths)
                    return '<span class="dmath">' + "".join(maths) + "</span>"
        try:
            out = latex_to_mathml(latex, display=display)
        except ConversionError as exc:
            self.failures.append((where, latex, str(exc)))
            cls = "latex-error block" if display else "latex-error"
            return f'<code class="{cls}" title="{_e("not converted: " + str(exc))}">{_e(latex)}</code>'
        self.math_count += 1
        return out

    # text -----------------------------------------------------------------------------------------
    def _protect(self, s: str, where: str) -> tuple[str, list[str]]:
        """Replace code spans and math with placeholders \\x00N\\x00; return (text, rendered pieces)."""
        pieces: list[str] = []

        def sub(m: re.Match) -> str:
            if m.group("code") is not None:
                pieces.append(f"<code>{_e(m.group('code')[1:-1])}</code>")
            elif m.group("dmath") is not None:
                pieces.append(self.math(m.group("dmath"), True, where))
            elif m.group("imath") is not None:
                pieces.append(self.math(m.group("imath"), False, where))
            else:
                pieces.append("$")
            return f"\x00{len(pieces) - 1}\x00"

        return _SEGMENT.sub(sub, s.replace("\x00", "")), pieces

    @staticmethod
    def _restore(s: str, pieces: list[str]) -> str:
        return re.sub(r"\x00(\d+)\x00", lambda m: pieces[int(m.group(1))], s)

    def text(self, s, where: str) -> str:
        """Inline text: `$...$` math, `code`, **bold**; newlines kept as <br>."""
        if s is None:
            return ""
        t, pieces = self._protect(str(s), where)
        t = _md(t)
        t = t.replace("\n", "<br>\n")
        return self._restore(t, pieces)

    def blocks(self, s, where: str) -> str:
        """Markdown-ish text: paragraphs (blank lines), `- ` lists, plus everything `text` does."""
        if s is None or not str(s).strip():
            return ""
        t, pieces = self._protect(str(s).strip(), where)
        out = []
        for block in re.split(r"\n\s*\n", t):
            lines = [ln for ln in block.split("\n") if ln.strip()]
            if not lines:
                continue
            if all(_LIST_ITEM.match(ln) for ln in lines):
                items = "".join(f"<li>{_md(_LIST_ITEM.sub('', ln))}</li>" for ln in lines)
                out.append(f"<ul>{items}</ul>")
            else:
                para = " ".join(ln.strip() for ln in lines)
                out.append(f"<p>{_md(para)}</p>")
        return self._restore("\n".join(out), pieces)

    def text_list(self, items, where: str, cls: str = "") -> str:
        if isinstance(items, str):
            items = [items] if items.strip() else []
        items = list(items or [])
        if not items:
            return ""
        attr = f' class="{cls}"' if cls else ""
        lis = "".join(f"<li>{self.text(x, f'{where}[{i}]')}</li>" for i, x in enumerate(items))
        return f"<ul{attr}>{lis}</ul>"


# --------------------------------------------------------------------------------------------------
# book order and helpers


def book_order(records: dict) -> list[str]:
    """Ids in reading order (`present.reading_order`: chapters, then the registry's declaration order)."""
    return present.reading_order(records)


def _groups(records: dict) -> list[tuple[str, list[str]]]:
    return present.chapters(records)


def _sections(ledger: list) -> list[tuple[str, list[dict]]]:
    out: dict[str, list[dict]] = {}
    for c in ledger:
        out.setdefault(str(c.get("section") or "Other"), []).append(c)
    return list(out.items())


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _badge(cls: str, label: str, title: str = "") -> str:
    t = f' title="{_e(title)}"' if title else ""
    return f'<span class="badge {_e(cls)}"{t}>{_e(label)}</span>'


def _field(name: str, body: str) -> str:
    return f"<dt>{_e(name)}</dt><dd>{body}</dd>" if body else ""


def _dlist(*fields: str) -> str:
    body = "".join(f for f in fields if f)
    return f'<dl class="fields">{body}</dl>' if body else ""


def _links(ids, records: dict) -> str:
    parts = []
    for i in ids or []:
        if i in records:
            parts.append(f'<a href="#{_e(i)}"><code>{_e(i)}</code></a>')
        else:
            parts.append(f'<code class="dangling" title="not in this book">{_e(i)}</code>')
    return ", ".join(parts)


# --------------------------------------------------------------------------------------------------
# sections


def _intro(r: _Renderer, records: dict, ledger: list, figures: dict) -> str:
    summary = ", ".join(f"{n} {'definitions' if s == 'definition' and n != 1 else s}"
                        for s, n in present.status_counts(records))
    counts = dict(present.status_counts(records))
    verdicts = {}
    for c in ledger:
        verdicts[c.get("verdict")] = verdicts.get(c.get("verdict"), 0) + 1
    conv = (
        "<ul>"
        "<li>Vectors are column vectors.</li>"
        "<li>Jacobians are in numerator layout: "
        + r.math(r"\Big(\frac{\partial y}{\partial x}\Big)_{ij} = \frac{\partial y_i}{\partial x_j}", False,
                 "intro")
        + ", so a map from <i>m</i> to <i>n</i> numbers has an <i>n</i>&#x202F;&#xD7;&#x202F;<i>m</i> Jacobian.</li>"
        "<li>Products of Jacobians are written latest-left: "
        + r.math(r"\frac{\partial h_t}{\partial h_k} = J_t\,J_{t-1}\cdots J_{k+1}", False, "intro")
        + ".</li>"
        "<li>Every proof obligation is an exact symbolic check (numeric agreement is never proof); a "
        "derivation's status says what its obligations establish, and its scope sentence follows the "
        "statement.</li>"
        "</ul>"
    )
    statuses = "".join(
        f"<span>{_badge('s-' + s, present.status_label(s))}</span><span>{_e(present.STATUS_MEANING[s])}"
        + (f" ({counts[s]})" if counts.get(s) else "") + "</span>"
        for s in present.STATUSES
    )
    legend = "".join(
        f"<span>{_badge('v-' + v, present.verdict_label(v))}</span><span>{_e(desc)}"
        + (f" ({verdicts[v]})" if verdicts.get(v) else "") + "</span>"
        for v, desc in VERDICTS.items()
    )
    return (
        "<header>\n<h1>dlproof: derivations and claims</h1>\n"
        '<p class="lead">The mathematics of recurrent networks (activations, RNN cells and '
        "backpropagation through time, gradient clipping, LSTM, GRU, bidirectional RNNs) and of the "
        "module's other pieces (backpropagation, residual networks, batch normalization, dropout, attention, "
        "convolution, universal approximation, the neural tangent kernel), derived "
        "symbolically and checked against implementations; and the ledger of the source's claims, "
        "each with its verdict.</p>\n"
        f'<p class="intro">{_plural(len(records), "derivation")} ({_e(summary)}); '
        f'{_plural(len(ledger), "claim")}; {_plural(len(figures), "figure")}. '
        "This file is self-contained: math is MathML, figures are embedded, there is no script.</p>\n"
        f"<h3>Conventions</h3>\n{conv}\n"
        f'<h3>Statuses of a derivation</h3>\n<div class="legend">{statuses}</div>\n'
        f'<h3>Verdicts</h3>\n<div class="legend">{legend}</div>\n'
        "</header>\n"
    )


def _toc(r: _Renderer, records: dict, ledger: list, figures: dict) -> str:
    out = ['<nav class="toc" id="contents">', "<h2>Contents</h2>", "<ol>"]
    out.append('<li><a href="#claims">Claims of the source</a>')
    if ledger:
        out.append("<ul>")
        for k, (sec, claims) in enumerate(_sections(ledger)):
            out.append(f'<li><a href="#claims-{k + 1}" lang="zh">{_e(sec)}</a> ({len(claims)})</li>')
        out.append("</ul>")
    out.append("</li>")
    out.append('<li><a href="#derivations">Derivations</a><ul>')
    for g, ids in _groups(records):
        out.append(f'<li><a href="#group-{_e(g)}">{_e(present.group_title(g))}</a> ({len(ids)})'
                   '<ul class="ids">')
        for i in ids:
            rec = records[i]
            title = r.text(present.display_title(rec), f"derivation {i}: title (contents)")
            out.append(f'<li><a href="#{_e(i)}">{title}</a> <small><code>{_e(i)}</code> · '
                       f'{_e(present.status_label(rec.get("status", "")))}</small></li>')
        out.append("</ul></li>")
    out.append("</ul></li>")
    out.append('<li><a href="#figures">Figures</a>')
    if figures:
        out.append("<ul>")
        for name in sorted(figures):
            cap = r.text(figures[name].get("caption", ""), f"figure {name}: caption (contents)")
            out.append(f'<li><a href="#fig.{_e(name)}">{cap or _e(name)}</a></li>')
        out.append("</ul>")
    out.append("</li></ol></nav>\n")
    return "\n".join(out)


def _claim(r: _Renderer, c: dict, records: dict) -> str:
    cid = str(c.get("id", ""))
    w = f"claim {cid}"
    verdict = str(c.get("verdict", ""))
    meas = c.get("measurement")
    meas_html = ""
    if meas:
        if isinstance(meas, dict):
            summary = r.text(meas.get("summary", ""), f"{w}: measurement")
            ratios = meas.get("ratios") or {}
            table = ("<table><tr><th>configuration</th><th>GRU / LSTM step time</th></tr>"
                     + "".join(f"<tr><td>{_e(k)}</td><td>{v:.3f}</td></tr>" for k, v in sorted(ratios.items()))
                     + "</table>") if ratios else ""
            src = f"<p>Source: <code>reports/performance.json</code>, <code>results.{_e(meas.get('key', ''))}</code>.</p>"
            meas_html = (f"<p>{summary}</p>" if summary else "") + table + src
        else:
            meas_html = r.text(meas, f"{w}: measurement")
    ce = c.get("counterexample")
    ce_html = ""
    if isinstance(ce, dict) and "latex" in ce:
        ce_html = (_links([ce["derivation"]], records) + r.math(ce["latex"], True, f"{w}: counterexample")
                   + (f"<p>{r.text(ce['explanation'], w + ': counterexample')}</p>" if ce.get("explanation") else "")
                   + (f"<pre><code>{_e(_json(ce['point']))}</code></pre>" if ce.get("point") else ""))
    elif ce:
        ce_html = f"<pre><code>{_e(_json(ce))}</code></pre>"
    props = c.get("properties") or []
    return (
        f'<article class="claim" id="{_e(cid)}">\n'
        f'<h4>{_badge("v-" + verdict, present.verdict_label(verdict), VERDICTS.get(verdict, ""))} '
        f'<code>{_e(cid)}</code></h4>\n'
        f'<blockquote class="quote" lang="zh">{r.text(c.get("quote", ""), w + ": quote")}</blockquote>\n'
        f'<p class="english">{r.text(c.get("english", ""), w + ": english")}</p>\n'
        + _dlist(
            _field("Conditions", r.text_list(c.get("conditions"), f"{w}: conditions")),
            _field("Explanation", r.blocks(c.get("explanation"), f"{w}: explanation")),
            _field("Derivations", _links(c.get("derivations"), records)),
            _field("Properties", ", ".join(f"<code>{_e(p)}</code>" for p in props)),
            _field("Measurement", meas_html),
            _field("Counterexample", ce_html),
            _field("Literature", r.text_list(c.get("literature"), f"{w}: literature")),
            _field("Problems", r.text_list(c.get("problems"), f"{w}: problems")),
        )
        + "\n</article>\n"
    )


def _claims(r: _Renderer, ledger: list, records: dict) -> str:
    out = ['<section id="claims">', "<h2>Claims of the source</h2>"]
    if not ledger:
        out.append('<p class="intro">The claims ledger is empty.</p>')
    for k, (sec, claims) in enumerate(_sections(ledger)):
        out.append(f'<section id="claims-{k + 1}"><h3 lang="zh">{_e(sec)}</h3>')
        out.extend(_claim(r, c, records) for c in claims)
        out.append("</section>")
    out.append("</section>\n")
    return "\n".join(out)


def _obligation(r: _Renderer, ob: dict, where: str) -> str:
    st = str(ob.get("status", ""))
    parts = [_badge("s-" + st, st), " ", r.text(ob.get("statement", ""), where)]
    if present.obligation_scope(ob):
        parts.append(f' <span class="obscope">[{_e(present.obligation_scope(ob))}]</span>')
    if ob.get("method"):
        parts.append(f' <span class="meta">({_e(present.obligation_method(ob))})</span>')
    if ob.get("detail"):
        parts.append(f"<br>{r.text(ob['detail'], where + ' detail')}")
    if ob.get("counterexample"):
        parts.append(f"<pre><code>{_e(_json(ob['counterexample']))}</code></pre>")
    return "<li>" + "".join(parts) + "</li>"


def _derivation(r: _Renderer, rid: str, rec: dict, records: dict, cited: dict, figs: dict) -> str:
    w = f"derivation {rid}"
    kind, status = str(rec.get("kind", "")), str(rec.get("status", ""))
    badges = _badge("k-" + kind, kind)
    if status and status != kind:
        badges += " " + _badge("s-" + status, present.status_label(status), present.status_meaning(status))
    title_html = r.text(present.display_title(dict(rec, id=rid)), w + ": title")
    latex = str(rec.get("latex") or "").strip()
    statement_html = r.math(latex, True, w + ": statement") if latex else ""
    sc = present.scope_of(rec)
    scope_html = (f'<p class="scope"><span class="label">Scope:</span> {r.text(sc["summary"], w + ": scope")}</p>\n'
                  if sc["summary"] else "")
    lemmas_html = ("<ul>" + "".join(
        f'<li><code>{_e(lm["id"])}</code>: {r.math(str(lm.get("statement", "")), False, w + ": lemma " + str(lm["id"]))}'
        f' <span class="meta">({r.text(lm.get("reference", ""), w + ": lemma reference")})</span></li>'
        for lm in sc["lemmas"]) + "</ul>") if sc["lemmas"] else ""
    steps = rec.get("steps") or []
    steps_html = ""
    if steps:
        steps_html = '<ol class="steps">' + "".join(
            f"<li>{r.math(s, True, f'{w}: step {n + 1}')}</li>" for n, s in enumerate(steps)) + "</ol>"
    obs = rec.get("obligations") or []
    obs_html = "<ul>" + "".join(_obligation(r, ob, f"{w}: obligation {n + 1}")
                                for n, ob in enumerate(obs)) + "</ul>" if obs else ""
    ce = rec.get("counterexample")
    cit = rec.get("citation") or {}
    cit_html = ""
    if isinstance(cit, dict):
        # the seed strings already begin with "seed §..." / "seed: ...": label them "Source", never "seed:"
        cit_html = "".join(
            f'<p><span class="meta">{label}:</span> {r.text(cit[k], f"{w}: citation {k}")}</p>'
            for k, label in (("seed", "Source"), ("primary", "Primary")) if cit.get(k)
        ) + "".join(
            f'<p><span class="meta">{_e(k)}:</span> {r.text(v, f"{w}: citation {k}")}</p>'
            for k, v in sorted(cit.items()) if k not in ("seed", "primary") and v
        )
    elif cit:
        cit_html = r.text(cit, f"{w}: citation")
    cited_html = ", ".join(f'<a href="#{_e(c)}"><code>{_e(c)}</code></a>' for c in cited.get(rid, []))
    fig_html = ", ".join(f'<a href="#fig.{_e(f)}"><code>{_e(f)}</code></a>' for f in figs.get(rid, []))
    return (
        f'<article class="derivation" id="{_e(rid)}">\n'
        f"<h4>{title_html}</h4>\n"
        f'<p class="meta"><code>{_e(rid)}</code> {badges}</p>\n'
        + (f'<div class="statement">{statement_html}</div>\n' if statement_html else "")
        + scope_html
        + (f"<h5>Derivation</h5>{steps_html}\n" if steps_html else "")
        + _dlist(
            _field("Layout", r.text(rec.get("layout"), f"{w}: layout") if rec.get("layout") else ""),
            _field("Cited lemmas", lemmas_html),
            _field("Assumptions", r.text_list(rec.get("assumptions"), f"{w}: assumptions")),
            _field("Obligations", obs_html),
            _field("Counterexample", f"<pre><code>{_e(_json(ce))}</code></pre>" if ce else ""),
            _field("Notes", r.blocks(rec.get("notes"), f"{w}: notes")),
            _field("Citation", cit_html),
            _field("Cited by", cited_html),
            _field("Figures", fig_html),
        )
        + "\n</article>\n"
    )


def _derivations(r: _Renderer, records: dict, ledger: list, figures: dict) -> str:
    cited: dict[str, list[str]] = {}
    for c in ledger:
        for d in c.get("derivations") or []:
            cited.setdefault(d, []).append(str(c.get("id")))
    figs: dict[str, list[str]] = {}
    for name in sorted(figures):
        for d in figures[name].get("derivations") or []:
            figs.setdefault(d, []).append(name)
    out = ['<section id="derivations">', "<h2>Derivations</h2>"]
    for g, ids in _groups(records):
        out.append(f'<section id="group-{_e(g)}"><h3>{_e(present.group_title(g))}</h3>')
        out.extend(_derivation(r, i, records[i], records, cited, figs) for i in ids)
        out.append("</section>")
    out.append("</section>\n")
    return "\n".join(out)


def _figures(r: _Renderer, figures: dict, records: dict, figures_dir) -> str:
    out = ['<section id="figures">', "<h2>Figures</h2>"]
    if not figures:
        out.append('<p class="intro">No figures.</p>')
    for name in sorted(figures):
        fig = figures[name]
        w = f"figure {name}"
        caption = fig.get("caption", "")
        if figures_dir is None:
            img = ""
        else:
            path = Path(figures_dir) / fig["png"]
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise FileNotFoundError(f"figure {name!r}: cannot read {str(path)!r}: "
                                        f"{exc.strerror or exc}") from exc
            b64 = base64.b64encode(data).decode("ascii")
            img = f'<img src="data:image/png;base64,{b64}" alt="{_e(_strip_math(caption) or name)}">'
        checks = fig.get("checks") or []
        checks_html = ""
        if checks:
            lis = []
            for n, ch in enumerate(checks):
                ok = bool(ch.get("ok"))
                item = _badge("ok-" + str(ok).lower(), "ok" if ok else "FAILED") + " " + r.text(
                    ch.get("statement", ""), f"{w}: check {n + 1}")
                if ch.get("detail"):
                    item += f' <span class="meta">{r.text(ch["detail"], f"{w}: check {n + 1} detail")}</span>'
                lis.append(f"<li>{item}</li>")
            checks_html = '<ul class="checks">' + "".join(lis) + "</ul>"
        out.append(
            f'<figure class="fig" id="fig.{_e(name)}">\n{img}\n'
            f"<figcaption><code>{_e(name)}</code>: {r.text(caption, w + ': caption')}</figcaption>\n"
            + _dlist(_field("Derivations", _links(fig.get("derivations"), records)),
                     _field("Checks", checks_html))
            + "\n</figure>"
        )
    out.append("</section>\n")
    return "\n".join(out)


def _render(records: dict, ledger: list, figures: dict, figures_dir) -> tuple[str, _Renderer]:
    r = _Renderer()
    ledger = list(ledger or [])
    figures = dict(figures or {})
    body = (
        _intro(r, records, ledger, figures)
        + _toc(r, records, ledger, figures)
        + "<main>\n"
        + _claims(r, ledger, records)
        + _derivations(r, records, ledger, figures)
        + _figures(r, figures, records, figures_dir)
        + "</main>\n"
    )
    doc = (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<title>dlproof: derivations and claims</title>\n"
        f"<style>{CSS}</style>\n</head>\n<body>\n{body}</body>\n</html>\n"
    )
    return doc, r


# --------------------------------------------------------------------------------------------------
# public API


def render_book(records: dict, ledger: list, figures: dict, figures_dir) -> str:
    """The book as one self-contained HTML document (deterministic)."""
    return _render(records, ledger, figures, figures_dir)[0]


def conversion_failures(records: dict, ledger: list, figures: dict) -> list[tuple[str, str, str]]:
    """Every LaTeX piece the book could not convert: ``[(where, latex, error)]`` (empty when all is well)."""
    return list(_render(records, ledger, figures, None)[1].failures)


def math_count(records: dict, ledger: list, figures: dict) -> int:
    """How many ``<math>`` elements the book holds."""
    return _render(records, ledger, figures, None)[1].math_count


def write_book(path, records: dict, ledger: list, figures: dict, figures_dir) -> Path:
    """Render the book and write it atomically to ``path``; return the path."""
    return write_atomic(path, render_book(records, ledger, figures, figures_dir))


__all__ = ["render_book", "write_book", "conversion_failures", "math_count", "book_order"]
