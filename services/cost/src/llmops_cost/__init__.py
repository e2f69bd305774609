"""The cost service: prices every recorded call from an effective-dated catalog and reports spend."""

__version__ = "0.1.0"
