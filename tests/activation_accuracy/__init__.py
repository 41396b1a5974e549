"""Tests of the suite-wide activation-accuracy properties (dlproof/properties/activation_accuracy.py) and the
benchmark of their power (benchmarks/activation_power.py)."""
