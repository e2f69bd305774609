"""The faust worker: an agent folds every recorded call into windowed tables, a closer checks closed windows.

Two faust tables, each with its changelog topic declared in the catalog (``llmops.drift.windows``,
``llmops.drift.references``), so a restarted worker recovers them: the windows table holds one entry per call
and window (:mod:`llmops_drift_detection.windows`), the references table each scope's reference rows. The agent
runs with concurrency 1: a partition's messages are acked in order, so faust never commits an offset past a
message still in flight (faust-streaming issue 606 needs concurrency above 1, docs/adr/0046).

The closer runs in the worker's loop, not in faust's window expiry: faust closes windows by a timer over keys
set in this process only, so windows recovered from the changelog after a restart would never close. Here a
closed window is checked, its report published (a stable id), then its entries deleted (tombstones), then the
reference replaced: a crash between any two steps repeats the report under the same id, never loses it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import faust
from llmops_drift import DriftConfig
from llmops_kit.errors import PermanentError
from llmops_kit.kafka.consumer import dead_letter_headers
from llmops_kit.kafka.messages import ConsumedMessage
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.kafka.publisher import EventPublisher
from llmops_kit.kafka.security import ssl_context
from llmops_kit.kafka.topics import TopicCatalog, dlq_topic
from llmops_kit.logging import log_unexpected
from llmops_kit.settings import KafkaSecurity
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import TimeWindow
from llmops_schemas.v2 import CallRecorded

from llmops_drift_detection.config import DriftDetectionSettings
from llmops_drift_detection.decode import decode_call
from llmops_drift_detection.entrypoints.http import OpenWindow
from llmops_drift_detection.features import Scope, features, scope_of
from llmops_drift_detection.metrics import CALLS, OPEN_ENTRIES, REPORTS
from llmops_drift_detection.references import References
from llmops_drift_detection.reports import build_report
from llmops_drift_detection.tables import decoded, encoded, lookup, pop_both
from llmops_drift_detection.windows import ClosedWindow, Windowing, WindowKey

__all__ = ["REFERENCES_TOPIC", "WINDOWS_TOPIC", "DriftStream"]

WINDOWS_TOPIC = "llmops.drift.windows"
REFERENCES_TOPIC = "llmops.drift.references"
log = logging.getLogger(__name__)


def _credentials(security: KafkaSecurity) -> faust.types.auth.CredentialsT | None:
    """faust's form of the kit's Kafka security settings (SASL/TLS as every other client of the service)."""
    if security.security_protocol == "PLAINTEXT":
        return None
    context = ssl_context(security) if security.uses_tls else None
    if not security.uses_sasl:
        return faust.SSLCredentials(context)
    assert security.sasl_password is not None  # KafkaSecurity refuses SASL without credentials
    return faust.SASLCredentials(
        username=security.sasl_username,
        password=security.sasl_password.get_secret_value(),
        mechanism=security.sasl_mechanism,
        ssl_context=context,
    )


def _iso(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class DriftStream:
    """The faust app of the service, started and stopped with the service's runtime."""

    def __init__(
        self,
        settings: DriftDetectionSettings,
        *,
        out: EventPublisher,
        dead_letters: EventProducer,
        references: References,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings, self.out, self.dead_letters, self.references, self.clock = (
            settings, out, dead_letters, references, clock
        )  # fmt: skip
        self.windowing = Windowing(settings.window_s, settings.step_s, settings.grace_s)
        self.config = DriftConfig(fdr=settings.fdr, topics=settings.topics)
        self._counts: Counter[tuple[str, float]] = Counter()
        self._closer: asyncio.Task[None] | None = None
        partitions = TopicCatalog.load().get(CallRecorded.topic).partitions
        self.app = faust.App(
            settings.app_id,
            broker=[f"kafka://{server}" for server in settings.kafka_bootstrap_servers.split(",")],
            broker_credentials=_credentials(settings.kafka_security),
            store="memory://",
            datadir=str(settings.data_dir),
            web_enabled=False,
            autodiscover=False,
            loghandlers=[],
            topic_disable_leader=True,  # the leader topic is not in the catalog, and nothing here needs a leader
            topic_allow_declare=False,  # topics come from the catalog (the kit's provisioner), never from faust
            consumer_auto_offset_reset="earliest",
            processing_guarantee="at_least_once",
        )
        self.windows = self.app.Table(
            "windows",
            partitions=partitions,
            changelog_topic=self.app.topic(WINDOWS_TOPIC, partitions=partitions, internal=True),
        )
        references_log = self.app.topic(REFERENCES_TOPIC, partitions=partitions, internal=True)
        self.reference_rows = self.app.Table("references", partitions=partitions, changelog_topic=references_log)
        calls = self.app.topic(CallRecorded.topic, key_serializer="raw", value_serializer="raw")
        self.app.agent(calls, name="calls", concurrency=1)(self._consume)

    async def start(self) -> None:
        await self.app.start()
        self._closer = asyncio.create_task(self._close_forever(), name="drift-closer")

    async def stop(self) -> None:
        if self._closer is not None:
            self._closer.cancel()
            await asyncio.gather(self._closer, return_exceptions=True)
        await self.app.stop()

    async def ready(self) -> bool:
        """Ready once faust has its partitions and has recovered the tables from their changelogs."""
        recovery = self.app.tables.recovery  # type: ignore[attr-defined]
        return bool(self.app.consumer.assignment()) and recovery.completed.is_set() and not recovery.in_recovery

    async def _consume(self, stream: faust.StreamT[Any]) -> None:
        async for event in stream.events():
            message = event.message
            consumed = ConsumedMessage(
                message.topic, message.partition, message.offset, message.key, message.value or b"",
                tuple((k, bytes(v)) for k, v in (message.headers or [])), int(message.timestamp * 1000),
            )  # fmt: skip
            await self.fold(consumed)

    async def fold(self, message: ConsumedMessage) -> None:
        """Put one recorded call into its windows (or its dead letter, or only a counter)."""
        try:
            call = decode_call(message)
        except PermanentError as exc:
            # Awaited before faust acks the message: a dead letter is never lost behind a commit.
            record = (
                dlq_topic(message.topic),
                message.key,
                message.value,
                dead_letter_headers(message, exc, self.settings.app_id),
            )
            await self.dead_letters.send_many([record])
            CALLS.labels("dead_lettered").inc()
            return
        if call.data.origin == "platform" and not self.settings.include_platform:
            CALLS.labels("platform").inc()
            return
        scope, row, now = scope_of(call.tenant_id, call.data), features(call.data), self.clock()
        for start in self.windowing.starts(call.data.started_at.timestamp()):
            CALLS.labels(self._put(WindowKey(scope, start, call.data.call_id), row, message.partition, now)).inc()

    def _put(self, key: WindowKey, row: dict[str, Any], partition: int, now: float) -> str:
        if self.windowing.closed(key.start, now):
            return "late"
        count_key = (key.scope.encode(), key.start)
        text = key.encode()
        recovered = self.windows.data.pop(encoded(text), None)  # the same call again, after a restart
        if text not in self.windows.data and recovered is None:
            if self._counts[count_key] >= self.settings.max_calls_per_window:
                return "over_bound"
            self._counts[count_key] += 1
        self.windows[text] = {"p": partition, "f": row}
        return "windowed"

    def open_windows(self, tenant: str, limit: int) -> list[OpenWindow]:
        """``tenant``'s open windows with the calls each holds, oldest first, at most ``limit``."""
        held: Counter[tuple[Scope, float]] = Counter()
        for raw in list(self.windows.data.keys()):
            key = WindowKey.decode(decoded(raw))
            if key.scope.tenant == tenant:
                held[(key.scope, key.start)] += 1
        ordered = sorted(held.items(), key=lambda item: (item[0][1], item[0][0]))[:limit]
        return [
            OpenWindow(app=scope.app, environment=scope.environment, model=scope.model, prompt_name=scope.prompt_name,
                       prompt_version=scope.prompt_version, start=_iso(start), end=_iso(start + self.windowing.size),
                       calls=calls)
            for (scope, start), calls in ordered
        ]  # fmt: skip

    async def _close_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.close_interval_s)
            try:
                if await self.ready():
                    await self.close_due()
            except Exception as exc:  # the next round tries again: the entries are still there
                log_unexpected(log, "closing windows failed", exc)

    async def close_due(self) -> int:
        """Check, publish and forget every window past its end and grace; how many were closed."""
        keys = list(dict.fromkeys(decoded(key) for key in list(self.windows.data.keys())))
        counts: Counter[tuple[str, float]] = Counter()
        for text in keys:
            key = WindowKey.decode(text)
            counts[(key.scope.encode(), key.start)] += 1
        self._counts = counts  # recounted from the table: right again after a restart
        OPEN_ENTRIES.set(len(keys))
        closed = self.windowing.closable(keys, self.clock())
        for window in closed:
            await self._close(window)
        return len(closed)

    async def _close(self, window: ClosedWindow) -> None:
        entries = [lookup(self.windows.data, text) for text in window.keys]
        partition, rows = entries[0]["p"], [entry["f"] for entry in entries]
        span = TimeWindow(start=_iso(window.start), end=_iso(window.end))
        calls = {WindowKey.decode(text).call_id: row for text, row in zip(window.keys, rows, strict=True)}
        joined = await self.references.with_outcomes(window.scope, span.start, span.end, calls)  # scores, feedback
        rows = joined.rows
        reference, baseline = await self.references.reference(window.scope, span, self.reference_rows.data)
        report = await asyncio.to_thread(
            build_report, window.scope, span, reference, rows, baseline, config=self.config,
            min_samples=self.settings.min_samples, include_platform=self.settings.include_platform, notes=joined.notes,
        )  # fmt: skip
        event = CloudEvent.wrap(
            report, source=self.settings.source, tenant_id=window.scope.tenant, event_id=report.report_id
        )
        await self.out.publish_many([event])
        REPORTS.labels({True: "drift", False: "no_drift", None: "no_verdict"}[report.dataset_drift]).inc()
        for text in window.keys:
            pop_both(self.windows.data, text)
            self.windows.send_changelog(partition, text, None, value_serializer="raw")
        update = self.references.after_close(window.scope, span, rows, self.reference_rows.data)
        if update is not None:
            pop_both(self.reference_rows.data, window.scope.encode())
            self.reference_rows.data[window.scope.encode()] = update
            self.reference_rows.send_changelog(partition, window.scope.encode(), update)
