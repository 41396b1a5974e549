"""Tests of the residual chapter (named as in dlproof.capabilities.CHAPTERS); what needs torch is in test_*torch*.py."""
