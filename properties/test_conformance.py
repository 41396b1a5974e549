"""The conformance suite: every registered property on every selected target.

Run it on your own implementation with ``pytest --pyargs dlproof.properties --target module:attr``.
"""


def test_property(dlproof_target_spec, dlproof_property, dlproof_run):
    row = dlproof_run()
    assert row["verdict"] == "pass", row["message"]
