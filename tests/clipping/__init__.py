"""Tests of the clipping chapter (named as in dlproof.capabilities.CHAPTERS); what needs torch is in test_*torch*.py."""
