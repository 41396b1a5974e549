"""dlproof.properties: Hypothesis properties that check any Target against the derivations.

Entry points: `registry.all_properties()`, `harness.run(prop, target, spec)`, and the pytest suite
``test_conformance.py`` (``pytest --pyargs dlproof.properties --target module:attr``).
"""
