"""Fault suite of issue 5 (a package, so its conftest does not shadow tests/conftest.py)."""
