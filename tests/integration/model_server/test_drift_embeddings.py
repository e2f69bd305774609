"""Drift detection's sampled prompt embeddings through the real path: the worker on the session broker, the gateway
(its app under uvicorn) routing ``local-embedder`` to the session's model server's Triton ``embedder``, as
``llmops up`` does; the worker reaches it with a service key through the kit's gateway client.

Three windows of one scope, a share of their calls sampled (by a hash of the call id) and embedded: the first
and second ask about parcels in English, drawn from one generator (no drift on ``prompt_embedding``), the third
asks about recipes in French (a topic and language shift). Each window is checked against the previous one: the
second's ``prompt_embedding`` has a verdict and is not flagged, the third's is flagged. The embedder's own calls
(platform traffic recorded by the gateway) are not counted in the windows.

A pinned dataset reference (docs/adr/0058): calls stored in chDB, read through the warehouse's real query API,
a bounded sample of their prompts embedded through the same gateway; windows checked against it get a verdict
on ``prompt_embedding``, and with the gateway unreachable the reference has none and the report says why.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from llmops_drift import DriftConfig
from llmops_drift_detection.config import DriftDetectionSettings
from llmops_drift_detection.embeddings import FEATURE, PromptEmbedder, Wanted
from llmops_drift_detection.features import features, prompt_text, scope_of
from llmops_drift_detection.kept import PACKED, unpacked
from llmops_drift_detection.references import References
from llmops_drift_detection.reports import build_report
from llmops_drift_detection.stream import DriftStream
from llmops_kit.auth import hash_key
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.platform_client import GatewayClient, PlatformClient, WarehouseReader
from llmops_schemas.v1 import TimeWindow
from llmops_warehouse.adapters.clickhouse_store import ClickHouseEventStore

from tests.fixtures.clocks import ManualClock
from tests.fixtures.gateway import serve_gateway
from tests.integration.drift_detection.groups import start_group_at_the_end
from tests.integration.drift_detection.test_outcome_features import reader
from tests.integration.drift_detection.test_windows_to_reports import _entries, _reports
from tests.integration.feedback.conftest import chdb_client, warehouse_api, warehouse_database
from tests.integration.model_server.conftest import ModelServer
from tests.integration.warehouse.test_warehouse_consumer import wait_until
from tests.unit.evaluation.calls import call

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]
__all__ = ["chdb_client", "reader", "warehouse_api", "warehouse_database"]  # fixtures, by name

SERVICE_KEY = "llmops_it_drift_embed_service_" + uuid.uuid4().hex
READER_KEY = "llmops_it_drift_embed_reader_" + uuid.uuid4().hex
TENANT = f"it-de-{uuid.uuid4().hex[:8]}"
WINDOW_S = 600.0
PER_WINDOW = 90
RATE = 0.7
PARCELS = (
    ["Where is my parcel", "When will my package arrive", "Has my order shipped", "Can you track my delivery",
     "Why is my shipment late", "Is my parcel lost"],
    ["to Leeds", "from the depot", "this week", "with tracking number {n}", "after the holiday", "today"],
)  # fmt: skip
RECIPES = (
    ["Comment préparer une tarte aux pommes", "Quelle est la recette du boeuf bourguignon",
     "Combien de temps cuire des lentilles", "Comment réussir une mayonnaise", "Que mettre dans une quiche",
     "Comment faire une pâte à crêpes"],
    ["pour six personnes", "sans four", "à l'avance", "avec le numéro {n}", "pour un dîner", "facilement"],
)  # fmt: skip


@pytest.fixture(scope="module")
def gateway(kafka_bootstrap: str, model_server: ModelServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    keys = (
        "keys:\n"
        f"  - {{id: it-drift-svc, tenant_id: '*', role: service, sha256: {hash_key(SERVICE_KEY)}}}\n"
        f"  - {{id: it-drift-reader, tenant_id: {TENANT}, role: reader, sha256: {hash_key(READER_KEY)}}}\n"
    )
    routes = (
        f"upstreams:\n  - {{name: triton, base_url: 'grpc://{model_server.grpc}'}}\n"
        "models:\n  local-embedder: [{backend: triton, upstream: triton, model: embedder, timeout_s: 60}]\n"
    )
    with serve_gateway(kafka_bootstrap, tmp_path_factory.mktemp("drift-gateway"), keys=keys, key=READER_KEY,
                       routes=routes) as url:  # fmt: skip
        yield url


@pytest.fixture
async def embedder(gateway: str) -> AsyncIterator[PromptEmbedder]:
    async with _embedder_at(gateway) as found:
        yield found


@asynccontextmanager
async def _embedder_at(url: str) -> AsyncIterator[PromptEmbedder]:
    client = PlatformClient("gateway", url, SERVICE_KEY, timeout_s=60, attempts=1, max_in_flight=4)
    await client.start()
    try:
        yield PromptEmbedder(GatewayClient(client), rate=RATE, model="local-embedder", timeout_s=120, backoff_s=30,
                             max_chars=2000)  # fmt: skip
    finally:
        await client.stop()


def _window(start: datetime, prefix: str, texts: tuple[list[str], list[str]], seed: int) -> list[Any]:
    rng = random.Random(seed)
    calls = []
    for i in range(PER_WINDOW):
        prompt = f"{rng.choice(texts[0])} {rng.choice(texts[1]).format(n=rng.randint(100, 999))}?"
        at, latency = start + timedelta(seconds=i * 3), 200.0 + (i * 37) % 100
        messages = [{"role": "user", "content": prompt}]
        calls.append(call(TENANT, call_id=f"{prefix}-{i}", started_at=at, messages=messages, latency_ms=latency))
    return calls


async def test_a_topic_shift_drifts_the_embeddings_of_the_real_embedder(
    kafka_bootstrap: str, embedder: PromptEmbedder
) -> None:
    start = datetime.fromtimestamp((datetime.now(UTC).timestamp() // WINDOW_S - 10) * WINDOW_S, UTC)
    clock = ManualClock(start.timestamp() + 1)
    settings = DriftDetectionSettings(
        kafka_bootstrap_servers=kafka_bootstrap, app_id=f"drift-detection-it-{uuid.uuid4().hex[:8]}",
        window_s=WINDOW_S, grace_s=5, close_interval_s=0.2, min_samples=30, embedding_sample_rate=RATE,
    )  # fmt: skip
    await start_group_at_the_end(kafka_bootstrap, settings.app_id)
    producer = EventProducer(kafka_bootstrap, service="drift-it")
    await producer.start()
    stream = DriftStream(settings, out=producer, dead_letters=producer, references=References("previous_window", 30),
                         embedder=embedder, clock=clock)  # fmt: skip
    await stream.start()
    starts = [start + timedelta(seconds=WINDOW_S * n) for n in range(3)]
    try:
        await producer.publish_many([*_window(starts[0], "a", PARCELS, 1), *_window(starts[1], "b", PARCELS, 2),
                                     *_window(starts[2], "c", RECIPES, 3)])  # fmt: skip
        await wait_until(lambda: _entries(stream, TENANT, 3 * PER_WINDOW), "every call in its window", timeout_s=180)
        clock.now = starts[2].timestamp() + WINDOW_S + 10
        reports = sorted(await _reports(kafka_bootstrap, TENANT, 3), key=lambda r: r.window.start)
    finally:
        await stream.stop()
        await producer.stop()
    same, shifted = ({f.feature: f for f in report.features} for report in reports[1:])
    assert all(report.sample_size == PER_WINDOW for report in reports)  # the embedder's own calls not counted
    calm, moved = same[FEATURE], shifted[FEATURE]
    assert calm.drifted is False and calm.test in {"mmd", "domain_classifier"}, calm
    assert 30 <= calm.sample_size < PER_WINDOW and calm.baseline_sample_size >= 30  # a sample, not every call
    assert moved.drifted is True and moved.test in {"mmd", "domain_classifier"}, moved
    assert reports[2].dataset_drift is True


async def _embedded_rows(embedder: PromptEmbedder, calls: list[Any]) -> list[dict[str, Any]]:
    """A window's rows as the worker closes them, every prompt embedded (the window side of the check): the
    embedder stores vectors packed, and a closing window reads them back as floats."""
    rows = [features(event.data) for event in calls]
    wanted: list[Wanted] = [(TENANT, prompt_text(event.data), row) for event, row in zip(calls, rows, strict=True)]
    await embedder.embed(wanted)
    return unpacked(rows)


async def test_a_pinned_dataset_reference_has_embeddings_of_the_real_embedder(
    embedder: PromptEmbedder, reader: WarehouseReader, chdb_client: Any, warehouse_database: str
) -> None:
    start = datetime.fromtimestamp(datetime.now(UTC).timestamp() // 3600 * 3600 - 2 * 86_400, UTC)  # in retention
    stored = _window(start, f"ref-{uuid.uuid4().hex[:6]}", PARCELS, 4)
    ClickHouseEventStore(chdb_client, warehouse_database).insert_calls(stored)
    scope, period = scope_of(TENANT, stored[0].data), (start, start + timedelta(hours=1))
    span = TimeWindow(start=start + timedelta(days=1), end=start + timedelta(days=1, hours=1))
    references = References("dataset", 30, reader=reader, period=period, max_calls=200, max_embeddings=60,
                            embedder=embedder)  # fmt: skip

    reference, rows = await references.reference(scope, span, {})
    entry = references.after_close(scope, span, rows, {})
    calm = await _embedded_rows(embedder, _window(span.start, "calm", PARCELS, 5))
    moved = await _embedded_rows(embedder, _window(span.start, "moved", RECIPES, 6))
    checks = [build_report(scope, span, reference, window, rows, config=DriftConfig(), min_samples=30,
                           include_platform=False) for window in (calm, moved)]  # fmt: skip

    assert len(rows) == PER_WINDOW and 30 <= sum(FEATURE in row for row in rows) <= 60
    assert entry is not None and any(str(row.get(FEATURE, "")).startswith(PACKED) for row in entry["rows"])
    same, shifted = ({f.feature: f for f in report.features}[FEATURE] for report in checks)
    assert same.drifted is False and same.baseline_sample_size >= 30, same
    assert shifted.drifted is True and shifted.test in {"mmd", "domain_classifier"}, shifted

    async with _embedder_at("http://127.0.0.1:9") as unreachable:  # the gateway down
        without = References("dataset", 30, reader=reader, period=period, max_calls=200, max_embeddings=60,
                             embedder=unreachable)  # fmt: skip
        _, bare = await without.reference(scope, span, {})
    report = build_report(scope, span, reference, moved, bare, config=DriftConfig(), min_samples=30,
                          include_platform=False, reference_notes=without.notes(scope))  # fmt: skip
    untested = {f.feature: f for f in report.features}[FEATURE]
    assert len(bare) == PER_WINDOW and not any(FEATURE in row for row in bare)
    assert untested.drifted is None and any("embedder" in note for note in untested.notes), untested.notes
    assert without.after_close(scope, span, bare, {}) is None  # built again at the next close
