"""Tests of the application layer: the CLI, the books, LaTeX, figures, golden files, committed reports, published ids, security and the layer contract."""
