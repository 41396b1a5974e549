"""Tests of the gru chapter (named as in dlproof.capabilities.CHAPTERS); what needs torch is in test_*torch*.py."""
