"""LaTeX -> MathML Core for the HTML book: `latex_to_mathml` runs latex2mathml, then patches its output.

latex2mathml (pinned in pyproject.toml to ``latex2mathml==3.81.1``, the version these fixes target: a new
release may fix or change what is patched here, so re-check reports/book.html before moving the pin)
leaves some LaTeX raw or lays it out unlike TeX. The fixes, each a regex over its input or output:

- before: ``aligned`` -> ``align*``, ``gathered`` -> a centred array, ``\\xrightarrow[below]{above}`` ->
  ``\\overset``/``\\underset`` (`_x_arrows`);
- after: text-mode commands left in text nodes (sized delimiters, escapes: `_TEXT_COMMANDS`), sized
  delimiters made stretchy and wrapped in an mrow under a script, thin-space operator names, ``|`` and
  ``\\|`` as ordinary symbols, long arrows as relations, ``\\infty`` as an identifier;
- checks: unconverted commands, bare ``&`` and line breaks outside an environment raise `ConversionError`.

`split_display` / `display_pieces` break a long display formula at its top-level separators (the HTML and
LaTeX books both use them). The result keeps the LaTeX as an ``application/x-tex`` annotation.
"""
from __future__ import annotations

import html
import re

_TEX_ANNOTATION = "application/x-tex"

_PRE = (
    # latex2mathml 3.81 knows align*/split but not the amsmath `aligned` sub-environment
    (re.compile(r"\\(begin|end)\{aligned\}"), r"\\\1{align*}"),
    # ... nor `gathered` (its gather* emits a MathML 3 linebreak that MathML Core ignores)
    (re.compile(r"\\begin\{gathered\}"), r"\\begin{array}{c}"),
    (re.compile(r"\\end\{gathered\}"), r"\\end{array}"),
)
# commands that latex2mathml copies verbatim into a text node (sized delimiters, text-mode escapes)
_TEXT_COMMANDS = {
    "|": "&#x02016;", "Vert": "&#x02016;", "lVert": "&#x02016;", "rVert": "&#x02016;",
    "vert": "|", "lvert": "|", "rvert": "|",
    "langle": "&#x027E8;", "rangle": "&#x027E9;",
    "lbrace": "{", "rbrace": "}", "{": "{", "}": "}",
    "lfloor": "&#x0230A;", "rfloor": "&#x0230B;", "lceil": "&#x02308;", "rceil": "&#x02309;",
    "_": "_", "%": "%", "#": "#", "$": "$", "&": "&amp;", ",": "&#x02009;", " ": "&#x000A0;",
}
_TEXT_NODE = re.compile(r">([^<]+)<")
_COMMAND = re.compile(r"\\([A-Za-z]+|[^A-Za-z])")
_BARE_AMP = re.compile(r"&(?!#x?[0-9A-Fa-f]+;|[A-Za-z][A-Za-z0-9]*;)")
_MATH_OPEN = re.compile(r"^<math\b[^>]*>")
_SIZED_MO = re.compile(r"<mo((?=[^>]*\bminsize=)[^>]*)>")
_NAMED_MO = re.compile(r"<mo>([A-Za-z]{2,})</mo>")
_BAR_MO = re.compile(r"<mo((?![^>]*\blspace=)[^>]*)>(&#x0007C;|&#x02016;|\||\u2016)</mo>")
_LONG_ARROW_MI = re.compile(r"<mi>(&#x027F8;|&#x027F9;|&#x027FA;)</mi>")
_SCRIPTED_SIZED_MO = re.compile(r"<(msub|msup|msubsup)>(<mo\b[^>]*\bminsize=[^>]*>[^<]*</mo>)")


def _sized_mo(m: re.Match) -> str:
    attrs = m.group(1)
    extra = "".join(f' {k}="{v}"' for k, v in (("stretchy", "true"), ("symmetric", "true"),
                                                 ("lspace", "0"), ("rspace", "0"))
                    if f"{k}=" not in attrs)
    return f"<mo{extra}{attrs}>"


_SPACING = re.compile(r"(?:\s|\\(?:qquad|quad)(?![A-Za-z])|\\[ ;,>:]|~)*")


def split_display(latex: str) -> list[str]:
    """Split a long display formula at its top-level breaks, so that the pieces can wrap.

    MathML Core does not break lines. A break is a ``\\quad``/``\\qquad``, or a ``,``/``;`` followed by
    a spacing command (``\\ ``, ``\\;``, ``\\quad``), outside every group, environment and bracket;
    punctuation stays with the piece on its left, the spacing is dropped (the wrap supplies it).
    A top-level ``\\\\`` is a break too, one that `display_pieces` makes a forced new line."""
    return [p for p, _ in display_pieces(latex)]


def display_pieces(latex: str) -> list[tuple[str, bool]]:
    """[(piece, a forced line break follows)] for `split_display`."""
    s = latex.strip()
    pieces: list[tuple[str, bool]] = []
    brace = env = paren = 0
    start = i = 0
    n = len(s)

    def cut(end: int, resume: int, newline: bool = False) -> int:
        piece = s[start:end].strip()
        if piece:
            pieces.append((piece, newline))
        elif newline and pieces:
            pieces[-1] = (pieces[-1][0], True)
        return _SPACING.match(s, resume).end()

    while i < n:
        c = s[i]
        top = brace == 0 and env == 0 and paren <= 0
        if c == "\\":
            m = re.match(r"\\([A-Za-z]+|.)", s[i:], re.S)
            name = m.group(1) if m else ""
            if name == "begin":
                env += 1
            elif name == "end":
                env -= 1
            elif name in ("{", "langle", "lbrace", "lfloor", "lceil"):
                paren += 1
            elif name in ("}", "rangle", "rbrace", "rfloor", "rceil"):
                paren -= 1
            elif name in ("quad", "qquad") and top:
                start = i = cut(i, i)
                continue
            elif name == "\\" and top:
                start = i = cut(i, i + 2, newline=True)
                continue
            i += len(m.group(0)) if m else 1
            continue
        if c == "{":
            brace += 1
        elif c == "}":
            brace -= 1
        elif c in "([":
            paren += 1
        elif c in ")]":
            paren -= 1
        elif c in ",;" and top:
            after = _SPACING.match(s, i + 1).end()
            if re.search(r"\\(?:qquad|quad|[ ;])", s[i + 1:after]) and after < n:
                start = i = cut(i + 1, i + 1)
                continue
        i += 1
    tail = s[start:].strip()
    if tail:
        pieces.append((tail, False))
    if pieces:
        pieces[-1] = (pieces[-1][0], False)
    return pieces or [(s, False)]


def _balanced(s: str, i: int, open_: str, close: str) -> tuple[str, int] | None:
    """The text inside the group that opens at s[i] (== open_), and the index after it."""
    if i >= len(s) or s[i] != open_:
        return None
    depth = 0
    j = i
    while j < len(s):
        c = s[j]
        if c == "\\":
            j += 2
            continue
        if c == open_:
            depth += 1
        elif c == close:
            depth -= 1
            if depth == 0:
                return s[i + 1:j], j + 1
        j += 1
    return None


def _x_arrows(s: str) -> str:
    """``\\xrightarrow[below]{above}`` (unknown to latex2mathml 3.81, which emits broken mpadded) as
    ``\\underset{below}{\\overset{above}{\\rightarrow}}``: MathML Core stretches the arrow to its labels."""
    out = []
    i = 0
    for m in re.finditer(r"\\x(right|left)arrow(?![A-Za-z])", s):
        if m.start() < i:
            continue
        j = m.end()
        while j < len(s) and s[j] == " ":
            j += 1
        below = _balanced(s, j, "[", "]")
        if below is not None:
            below, j = below
            while j < len(s) and s[j] == " ":
                j += 1
        above = _balanced(s, j, "{", "}")
        if above is None:
            continue  # malformed: leave it to latex2mathml
        above, j = above
        arrow = r"\rightarrow" if m.group(1) == "right" else r"\leftarrow"
        if above.strip():
            arrow = rf"\overset{{{above}}}{{{arrow}}}"
        if below and below.strip():
            arrow = rf"\underset{{{below}}}{{{arrow}}}"
        out.append(s[i:m.start()] + "{" + arrow + "}")
        i = j
    return "".join(out) + s[i:]


class ConversionError(ValueError):
    """latex2mathml raised, or left LaTeX it did not understand in its output."""


def latex_to_mathml(latex: str, display: bool = False) -> str:
    """One LaTeX formula as a ``<math>`` element (MathML Core, LaTeX kept as an annotation).

    Raises `ConversionError` when latex2mathml fails or leaves unconverted LaTeX in its output."""
    from latex2mathml.converter import convert

    src = latex.strip()
    for pat, rep in _PRE:
        src = pat.sub(rep, src)
    src = _x_arrows(src)
    try:
        out = convert(src, display="block" if display else "inline")
    except Exception as exc:  # latex2mathml raises many exception types, some bare
        raise ConversionError(f"{type(exc).__name__}: {exc}".rstrip(": ")) from exc

    problems: list[str] = []

    def fix_text(m: re.Match) -> str:
        text = m.group(1)

        def cmd(c: re.Match) -> str:
            rep = _TEXT_COMMANDS.get(c.group(1))
            if rep is None:
                problems.append(f"unconverted {c.group(0)!r}")
                return c.group(0)
            return rep

        text = _COMMAND.sub(cmd, text)
        if _BARE_AMP.search(text):
            problems.append("a bare '&' (alignment outside a supported environment)")
        return ">" + text + "<"

    out = _TEXT_NODE.sub(fix_text, out)
    if 'linebreak="newline"' in out:
        problems.append("a line break \\\\ outside an environment (MathML Core does not break lines)")
    if problems:
        raise ConversionError("; ".join(sorted(set(problems))))
    out = out.replace('width="negativethinmathspace"', 'width="-0.1667em"')
    # \big-family delimiters (minsize=...): MathML Core stretches an operator only when it is stretchy,
    # and `|` in the middle of a row is not stretchy by the operator dictionary, so say so; Chromium
    # does not stretch the base of a script (\Big|_{x}) unless it sits in an mrow; and TeX spaces
    # \big-family delimiters as ordinary symbols, without operator spacing
    out = _SCRIPTED_SIZED_MO.sub(r"<\1><mrow>\2</mrow>", out)
    out = _SIZED_MO.sub(_sized_mo, out)
    # \operatorname{diag}: an unknown infix operator gets thick spaces on both sides ("diag (f)");
    # TeX puts a thin space before an operator name and none before its parenthesis
    out = _NAMED_MO.sub(r'<mo lspace="0.1667em" rspace="0">\1</mo>', out)
    # |x| and \|x\| are ordinary symbols in TeX; as infix operators they get relation spacing
    # (and \lVert x\rVert does not grow with its content, as a fence would in MathML)
    out = _BAR_MO.sub(lambda m: '<mo lspace="0" rspace="0"'
                      + ("" if "stretchy=" in m.group(1) else ' stretchy="false"')
                      + f"{m.group(1)}>{m.group(2)}</mo>", out)
    # latex2mathml emits \implies, \impliedby, \iff as identifiers (no spacing) and \infty as an operator
    out = _LONG_ARROW_MI.sub(r'<mo lspace="0.5556em" rspace="0.5556em">\1</mo>', out)
    out = out.replace("<mo>&#x0221E;</mo>", "<mi>&#x0221E;</mi>")
    head = _MATH_OPEN.match(out)
    if head is None or not out.endswith("</math>"):
        raise ConversionError("latex2mathml returned no <math> element")
    inner = out[head.end():-len("</math>")]
    disp = "block" if display else "inline"
    return (f'<math display="{disp}"><semantics><mrow>{inner}</mrow>'
            f'<annotation encoding="{_TEX_ANNOTATION}">{html.escape(latex.strip(), quote=False)}'
            f"</annotation></semantics></math>")
