"""Pure-NumPy reference: activations, Elman RNN forward + hand-written BPTT, gradient clipping."""
