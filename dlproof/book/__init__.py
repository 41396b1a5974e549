"""dlproof.book: the committed teaching artifacts under reports/.

- `markdown`: reports/derivations.md (the derivations book), reports/claims.md (the claims ledger) and
  reports/derivations-index.md;
- `html`: reports/book.html, one self-contained file, math as MathML (no JavaScript, no CDN); its style
  sheet is ``book.css`` and its LaTeX -> MathML conversion `mathml`;
- `latex`: the derivations as LaTeX (``dlproof derive --format latex``);
- `figures`: reports/figures/*.png, computed from the implementations and checked against the derivations;
- `present`: the shared presentation rules (reading order, status meanings, scopes);
- `build`: regenerates every artifact, each written atomically (`dlproof.atomic`).
"""
