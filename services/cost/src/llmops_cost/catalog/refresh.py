"""Add a version of the committed price catalog (``versions/<version>.json``) from LiteLLM's model price map (MIT).

LiteLLM is not a dependency of the platform: its wheel ships the map as
``litellm/model_prices_and_context_window_backup.json``, and this script reads that file (from any LiteLLM
installation, or a copy downloaded from the LiteLLM repository) and keeps, per model, the prices the cost
service uses, as exact decimal strings per million tokens::

    python -m llmops_cost.catalog.refresh \\
        --from .cache/litellm-venv/lib/python3.11/site-packages/litellm/model_prices_and_context_window_backup.json \\
        --version litellm-1.108.7 --effective-from 2020-01-01T00:00:00Z

The output records the version, the source file's SHA-256 and the instant the prices take effect; a refresh
is a reviewed commit of one more file (a new catalog version, effective from its date; the older versions
stay, so calls are priced with the version in force when they started), never a fetch at run time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

__all__ = ["CATALOG_DIR", "catalog_from_litellm", "main"]

CATALOG_DIR = Path(__file__).with_name("versions")
MODES = frozenset({"chat", "completion", "responses", "embedding"})
"""The kinds of model whose calls go through the gateway; image, audio and video prices are left out."""
_FIELDS = {
    "input_price_per_mtok": "input_cost_per_token",
    "output_price_per_mtok": "output_cost_per_token",
    "cached_input_price_per_mtok": "cache_read_input_token_cost",
}
_MILLION = Decimal(1_000_000)


def per_mtok(per_token: float) -> str:
    """A per-token float of the map as the exact decimal string per million tokens (``1.5e-07`` -> ``0.15``)."""
    value = Decimal(repr(per_token)) * _MILLION
    return format(value.normalize(), "f")


def _entry(spec: dict[str, Any]) -> dict[str, str] | None:
    if spec.get("mode") not in MODES or not isinstance(spec.get("input_cost_per_token"), int | float):
        return None
    entry = {"provider": str(spec.get("litellm_provider", "unknown"))}
    for ours, theirs in _FIELDS.items():
        value = spec.get(theirs)
        if isinstance(value, int | float) and value >= 0:
            entry[ours] = per_mtok(value)
    return entry


def catalog_from_litellm(raw: bytes, *, version: str, effective_from: str) -> dict[str, Any]:
    """The catalog document: metadata plus one entry per priced model, keyed as LiteLLM spells the model."""
    source = json.loads(raw)
    models = {}
    for name, spec in sorted(source.items()):
        entry = _entry(spec) if isinstance(spec, dict) and name != "sample_spec" else None
        if entry is not None:
            models[name] = entry
    return {
        "source": "LiteLLM model_prices_and_context_window.json (MIT), https://github.com/BerriAI/litellm",
        "version": version,
        "source_sha256": hashlib.sha256(raw).hexdigest(),
        "effective_from": effective_from,
        "currency": "USD",
        "models": models,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="source", type=Path, required=True, help="LiteLLM's price map (JSON)")
    parser.add_argument("--version", required=True, help="The catalog version, e.g. litellm-1.108.7")
    parser.add_argument("--effective-from", required=True, help="ISO date the prices take effect (UTC)")
    parser.add_argument("--out", type=Path, help="Where to write (default: versions/<version>.json)")
    args = parser.parse_args(argv)
    document = catalog_from_litellm(args.source.read_bytes(), version=args.version, effective_from=args.effective_from)
    out = args.out or CATALOG_DIR / f"{args.version}.json"
    out.write_text(json.dumps(document, indent=0, sort_keys=True) + "\n")
    print(f"{len(document['models'])} models, version {args.version} -> {out}")


if __name__ == "__main__":
    main()
