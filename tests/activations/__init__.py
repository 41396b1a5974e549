"""Tests of the activations chapter (named as in dlproof.capabilities.CHAPTERS)."""
