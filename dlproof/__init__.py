"""dlproof: deep-learning math, derived symbolically and property-tested.

- `dlproof.derivations`: SymPy derivations and proofs with stable ids (``records()``, ``record(id)``);
- `dlproof.impl`: NumPy/PyTorch reference implementations and built-in targets;
- `dlproof.properties`: the Hypothesis conformance suite;
- `dlproof.target.Target`: the conformance protocol (version 1); `dlproof.loader.load_target`.
"""
from .target import PROTOCOL_VERSION, Target, TargetError

__version__ = "0.1.0"
__all__ = ["Target", "TargetError", "PROTOCOL_VERSION", "__version__"]
