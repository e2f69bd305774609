"""Recognisers, one module per family; each exposes ``find(text) -> list[Finding]``."""
