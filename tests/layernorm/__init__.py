"""Tests of the layernorm chapter."""
