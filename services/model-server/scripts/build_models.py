"""Build the model server's checkpoints into ``.cache/models`` (or ``--model-dir``).

    uv run python services/model-server/scripts/build_models.py            # copy: seconds, idempotent
    uv run python services/model-server/scripts/build_models.py --train quick   # train a small llm (< 2 min)
    uv run python services/model-server/scripts/build_models.py --train shipped --write-shipped

The same command is installed as ``llmops-model-server-build``; see llmops_model_server.build.
"""

from __future__ import annotations

import sys

from llmops_model_server.build import main

if __name__ == "__main__":
    sys.exit(main())
