"""The fault suite: ``python -m fault`` (see __main__.py)."""
