"""The cost service as ``llmops-cost`` runs it, except that it kills itself with SIGKILL right after Kafka
acknowledged the costs of batch ``$COST_KILL_AFTER_BATCHES`` and before the loop commits the calls' offsets:
the crash that makes a consumer redeliver a batch whose side effect already happened, at a known moment."""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence
from typing import Any

from llmops_cost.entrypoints import consumer
from llmops_cost.entrypoints.main import main

_price_calls = consumer.price_calls
_batches = 0


async def price_then_die(calls: Sequence[Any], pricer: Any, out: Any) -> int:
    global _batches
    priced = await _price_calls(calls, pricer, out)
    _batches += 1
    if _batches == int(os.environ.get("COST_KILL_AFTER_BATCHES", "0")):
        os.kill(os.getpid(), signal.SIGKILL)
    return priced


if __name__ == "__main__":
    consumer.price_calls = price_then_die  # type: ignore[assignment]
    main()
