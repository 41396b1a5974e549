"""Tests of the projection chapter (named as in dlproof.capabilities.CHAPTERS); what needs torch is in test_*torch*.py."""
