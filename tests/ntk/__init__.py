"""Tests of the ntk chapter (named as in dlproof.capabilities.CHAPTERS); what needs torch is in test_*torch*.py."""
