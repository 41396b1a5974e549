"""Cited lemmas that derivations of several chapters rest on (declared once, imported where used).

A `scope.Lemma` is a standard fact the project cites rather than proves; a record that declares one in
``lemmas=`` is at best "proved-from-lemmas", and its instance checks of the lemma are ``lemma_check``
obligations (they illustrate, they do not prove). Chapter-specific lemmas live in their chapter module.
"""
from __future__ import annotations

from .scope import Lemma

HORN_JOHNSON = "Horn & Johnson (2013), Matrix Analysis, 2nd ed., Cambridge University Press"

SUBMULTIPLICATIVE = Lemma(
    "lemma.norm.submultiplicative",
    r"\|AB\|_2 \le \|A\|_2\,\|B\|_2 \ \text{(every induced operator norm is submultiplicative)}",
    HORN_JOHNSON + ", §5.6 (Theorem 5.6.2)")

DIAG_SPECTRAL_NORM = Lemma(
    "lemma.norm.diagonal",
    r"\|\operatorname{diag}(d)\|_2 = \max_i |d_i|",
    HORN_JOHNSON + ", §5.6 (the spectral norm is the largest singular value; a diagonal matrix's singular values are |d_i|)")

SIGMA_MIN_PRODUCT = Lemma(
    "lemma.sigma_min.product",
    r"\sigma_{\min}(AB) \ge \sigma_{\min}(A)\,\sigma_{\min}(B) \ \text{for square } A, B",
    HORN_JOHNSON + ", §7.3 (Theorem 7.3.14, singular value inequalities for products)")

TRIANGLE = Lemma(
    "lemma.norm.triangle",
    r"\lVert u + v\rVert_2 \le \lVert u\rVert_2 + \lVert v\rVert_2,\ \text{hence } "
    r"\lVert u + v\rVert_2 \ge \lVert u\rVert_2 - \lVert v\rVert_2",
    HORN_JOHNSON + ", §5.1 (the Euclidean norm; Cauchy-Schwarz inequality 5.1.4)")

EXPECTATION = Lemma(
    "lemma.prob.expectation_linear_monotone",
    r"\mathbb E\Big[\sum_i a_i X_i\Big] = \sum_i a_i\,\mathbb E X_i \ (\text{finite sums}),\quad "
    r"Z \ge 0 \Rightarrow \mathbb E Z \ge 0",
    "linearity and monotonicity of the expectation; e.g. Billingsley (1995), Probability and Measure, §21")

POWERSET_RECURSION = Lemma(
    "lemma.combinatorics.powerset_recursion",
    r"2^{\{1..L+1\}} = 2^{\{1..L\}} \sqcup \{S \cup \{L+1\} : S \subseteq \{1..L\}\}",
    "the subsets of {1..L+1} split by whether they contain L+1; e.g. Stanley (2011), Enumerative "
    "Combinatorics, vol. 1, 2nd ed., §1.1")

RANK_BOUND = Lemma(
    "lemma.linalg.rank_le_columns",
    r"T: \mathbb R^p \to \mathbb R^q \text{ linear}:\ \dim T(\mathbb R^p) = p - \dim\ker T \le p;\ "
    r"p < q\ \Rightarrow\ T \text{ is not onto}",
    "Axler (2015), Linear Algebra Done Right, 3rd ed., Springer, 3.22 (fundamental theorem of linear maps) and 3.26 "
    "(a map to a larger-dimensional space is not surjective)")

__all__ = ["SUBMULTIPLICATIVE", "DIAG_SPECTRAL_NORM", "SIGMA_MIN_PRODUCT", "TRIANGLE", "EXPECTATION",
           "POWERSET_RECURSION", "RANK_BOUND", "HORN_JOHNSON"]
