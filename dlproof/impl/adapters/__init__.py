"""Adapters: third-party implementations (torch.nn, ...) as conformance-protocol `dlproof.target.Target`s.

Each adapter maps the canonical parameters (column-vector math: W_x* (n, m), W_h* (n, n), b* (n,), a cell
computing ``x @ W_x.T + h @ W_h.T + b`` on batch rows, sequences time-major ``(T, B, features)``) into the
framework's own storage (gate order, stacked blocks, split biases, batch- vs time-major) and back, runs the
framework's real modules, and declares the framework's conventions. Each submodule imports its framework
lazily and raises ImportError with the install hint when it is missing; importing this package needs nothing.
"""
