"""Cheap targets for tests/suite/test_sweep.py: parameter counts only (the sweep runs in seconds)."""
from dlproof.impl.numpy_ref.rnn import param_count
from dlproof.target import Target

counts = Target("param counts only", param_count=param_count)
wrong_counts = Target("param counts, LSTM off by n", param_count=lambda k, n, m: param_count(k, n, m) + (n if k == "lstm" else 0))
