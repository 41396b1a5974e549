"""Tests of the stacked chapter (named as in dlproof.capabilities.CHAPTERS): records, oracle, properties."""
