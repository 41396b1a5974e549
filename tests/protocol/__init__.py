"""Tests of the protocol: Target, the loader, restrictions and how capabilities are called."""
