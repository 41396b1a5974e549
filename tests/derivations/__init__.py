"""Tests of the derivation machinery: proving, soundness, indexed sums, claims, symbolic scaling, the proof cache and the records."""
