"""Tests of the suite machinery: harness runs, runner, run folders, repro, blame, hostile and isolated targets, sweeps, extremes and the suite's power."""
