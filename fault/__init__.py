"""The fault suite of issue 7: ``python -m fault`` (see __main__.py)."""
