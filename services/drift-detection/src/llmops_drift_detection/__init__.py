"""The drift-detection service: streaming windows of call features, each closed window checked for drift."""

__version__ = "0.1.0"
