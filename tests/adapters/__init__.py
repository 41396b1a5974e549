"""Tests of the framework adapters (torch.nn, Keras, Flax) and the torch device switches."""
