"""dlproof.book: the committed teaching artifacts under reports/.

- `markdown`: reports/derivations.md (the derivations book) and reports/claims.md (the claims ledger);
- `html`: reports/book.html, one self-contained file, math as MathML (no JavaScript, no CDN);
- `figures`: reports/figures/*.png, computed from the implementations and checked against the derivations;
- `files`: atomic writes, so an interrupted run never leaves a half-written artifact.
"""
