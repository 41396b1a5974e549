"""Declared restrictions: what a target does not support inside a capability (placeholder; filled in)."""
from __future__ import annotations


def relevant(target, capabilities) -> list:
    """The target's declared restrictions that narrow the domain of any of ``capabilities`` (texts for the report)."""
    return []
