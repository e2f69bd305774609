"""The training text shipped with the package.

``data/opticks.txt.gz``: Isaac Newton, *Opticks* (4th edition, 1730), public domain in every
jurisdiction. The transcription is the Project Gutenberg / Distributed Proofreaders one (without the
Project Gutenberg header, as the Go distribution carries it in ``src/testdata``), reduced to its prose
paragraphs: figure captions, footnote blocks, tables, Greek-letter labels and italics markers removed.
See ``data/NOTICE``.
"""

from __future__ import annotations

import gzip
import hashlib
from importlib import resources

__all__ = ["corpus_paragraphs", "corpus_sha256"]

CORPUS = "opticks.txt.gz"


def _raw() -> bytes:
    return resources.files("llmops_model_server.data").joinpath(CORPUS).read_bytes()


def corpus_paragraphs() -> list[str]:
    """The corpus as paragraphs (one per blank-line-separated block), in order."""
    text = gzip.decompress(_raw()).decode("utf-8")
    return [p for p in text.split("\n\n") if p.strip()]


def corpus_sha256() -> str:
    """Digest of the uncompressed corpus; part of the build's cache key."""
    return hashlib.sha256(gzip.decompress(_raw())).hexdigest()
