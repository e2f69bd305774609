"""The heuristic pass fetches large chunks per partition (docs/adr/0059): aiokafka's 1 MiB default is under one
batch of 1,000 calls, so a scorer with a backlog waited for a fetch in every batch, idle between batches."""

from __future__ import annotations

from llmops_evaluation.config import EvaluationSettings
from llmops_evaluation.entrypoints.consumer import build_consumer
from llmops_evaluation.entrypoints.model_consumer import build_model_consumer


async def test_the_heuristic_pass_fetches_what_its_settings_say_per_partition() -> None:
    default = EvaluationSettings(kafka_bootstrap_servers="127.0.0.1:1")
    assert default.fetch_partition_bytes == 8 << 20
    settings = EvaluationSettings(kafka_bootstrap_servers="127.0.0.1:1", fetch_partition_bytes=3 << 20)
    loop = build_consumer(settings, None, None, None)  # type: ignore[arg-type]
    try:
        assert loop._consumer._max_partition_fetch_bytes == 3 << 20
    finally:
        await loop._consumer.stop()


async def test_the_model_stage_keeps_small_fetches_for_its_small_batches() -> None:
    settings = EvaluationSettings(kafka_bootstrap_servers="127.0.0.1:1", fetch_partition_bytes=3 << 20)
    loop = build_model_consumer(settings, None, None, None, None)  # type: ignore[arg-type]
    try:
        assert loop._consumer._max_partition_fetch_bytes == 1 << 20
    finally:
        await loop._consumer.stop()
