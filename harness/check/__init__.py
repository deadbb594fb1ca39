"""``./lab check PATH``: a user's own function through every deployment target, without
and with the fix (``python -m harness.check``)."""
