"""The faust worker: recorded calls are folded into windowed tables in batches, a closer checks closed windows.

Two faust tables, each with its changelog topic declared in the catalog (``llmops.drift.windows``,
``llmops.drift.references``), so a restarted worker recovers them: the windows table holds one entry per fold
batch, scope and window, its calls' rows keyed by call id (:mod:`llmops_drift_detection.entries`), the
references table each scope's reference rows. The calls topic is subscribed through faust (same group, assignor
and recovery as an agent's), but its records go from each fetch straight to :meth:`DriftStream.fold_batch` in
chunks of at most ``fold_batch_max`` (:mod:`llmops_drift_detection.fetch`, docs/adr/0057); a chunk's offsets
are acknowledged only once it is folded (its dead letters sent, its entries written), so no offset is committed
past a message not yet folded (faust-streaming issue 606, docs/adr/0046 and 0047). Nothing is counted twice: a
call folded again after a restart is a duplicate by its call id.
A window keeps at most ``max_calls_per_window`` calls; a call for a window already closed is late (counted).

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
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import faust
from llmops_drift import DriftConfig
from llmops_kit.errors import PermanentError
from llmops_kit.kafka.consumer import dead_letter_headers
from llmops_kit.kafka.messages import ConsumedMessage
from llmops_kit.kafka.producer import EventProducer, OutgoingRecord
from llmops_kit.kafka.publisher import EventPublisher
from llmops_kit.kafka.security import ssl_context
from llmops_kit.kafka.topics import TopicCatalog, dlq_topic
from llmops_kit.logging import log_unexpected
from llmops_kit.settings import KafkaSecurity
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import TimeWindow
from llmops_schemas.v2 import CallRecorded

from llmops_drift_detection.commits import HoleMender
from llmops_drift_detection.config import DriftDetectionSettings
from llmops_drift_detection.decode import CallEvent, read_call
from llmops_drift_detection.embeddings import PromptEmbedder, Wanted
from llmops_drift_detection.entries import Batch, Pending, WindowEntries
from llmops_drift_detection.entrypoints.http import OpenWindow
from llmops_drift_detection.features import features, prompt_text, scope_of
from llmops_drift_detection.fetch import DriftApp, FoldRoute
from llmops_drift_detection.metrics import CALLS, OPEN_ENTRIES, REPORTS
from llmops_drift_detection.recovery_watch import RecoveryWatch
from llmops_drift_detection.references import References
from llmops_drift_detection.reports import build_report
from llmops_drift_detection.tables import pop_both
from llmops_drift_detection.windows import ClosedWindow, Windowing

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
        embedder: PromptEmbedder | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings, self.out, self.dead_letters, self.references, self.clock = (
            settings, out, dead_letters, references, clock
        )  # fmt: skip
        self.embedder = embedder or PromptEmbedder(
            None, rate=0, model="", timeout_s=1, backoff_s=1, max_chars=1
        )  # none: no embeddings
        self.windowing = Windowing(settings.window_s, settings.step_s, settings.grace_s)
        self._mender = HoleMender()
        self.config = DriftConfig(fdr=settings.fdr, topics=settings.topics)
        self._closer: asyncio.Task[None] | None = None
        partitions = TopicCatalog.load().get(CallRecorded.topic).partitions
        self.app = DriftApp(
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
            consumer_max_fetch_size=settings.fetch_partition_bytes,
        )
        self.windows = self.app.Table(
            "windows",
            partitions=partitions,
            changelog_topic=self.app.topic(WINDOWS_TOPIC, partitions=partitions, internal=True),
        )
        references_log = self.app.topic(REFERENCES_TOPIC, partitions=partitions, internal=True)
        self.reference_rows = self.app.Table("references", partitions=partitions, changelog_topic=references_log)
        self.entries = WindowEntries(self.windows, settings.max_calls_per_window)
        self.windows.on_recover(self.entries.reindex)
        self.recovery_watch = RecoveryWatch(
            lambda: self.app.tables.recovery,  # type: ignore[attr-defined]
            settings.recovery_stall_s,
        )
        # subscribed (and co-partitioned with the changelogs) through faust; read in chunks by its consumer
        self.app.topics.add(self.app.topic(CallRecorded.topic, key_serializer="raw", value_serializer="raw"))
        self.app.fold_route = FoldRoute(
            CallRecorded.topic, self.fold_batch, settings.fold_batch_max, settings.fold_batch_s
        )

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

    async def fold_batch(self, messages: Sequence[ConsumedMessage]) -> None:
        """Put a batch of recorded calls into their windows (or their dead letters, or only a counter)."""
        outcomes: Counter[str] = Counter()
        calls: list[tuple[ConsumedMessage, CallEvent]] = []
        dead: list[OutgoingRecord] = []
        for message in messages:
            try:
                call = read_call(message)
            except PermanentError as exc:
                headers = dead_letter_headers(message, exc, self.settings.app_id)
                dead.append((dlq_topic(message.topic), message.key, message.value, headers))
                continue
            if call.data.origin == "platform" and not self.settings.include_platform:
                outcomes["platform"] += 1
                continue
            calls.append((message, call))
        if dead:  # awaited before faust acks the batch: a dead letter is never lost behind a commit
            await self.dead_letters.send_many(dead)
            outcomes["dead_lettered"] += len(dead)
        window_outcomes, batch, wanted = self._window(calls, self.clock())
        await self.embedder.embed(wanted)  # bounded by its timeout: a slow embedder never stalls the windows
        self.entries.write(batch)
        outcomes.update(window_outcomes)
        for outcome, count in outcomes.items():
            CALLS.labels(outcome).inc(count)

    def _window(
        self, calls: Sequence[tuple[ConsumedMessage, CallEvent]], now: float
    ) -> tuple[Counter[str], Batch, list[Wanted]]:
        """The batch's rows by partition, scope and window, and the sampled ones that want an embedding."""
        outcomes: Counter[str] = Counter()
        batch: Batch = {}
        wanted: list[Wanted] = []
        pending: Pending = {}
        for message, call in calls:
            scope, row, call_id = scope_of(call.tenant_id, call.data), features(call.data), call.data.call_id
            admitted = False
            for start in self.windowing.starts(call.data.started_at.timestamp()):
                outcome = (
                    "late" if self.windowing.closed(start, now) else self.entries.admit(scope, start, call_id, pending)
                )
                outcomes[outcome] += 1
                if outcome == "windowed":
                    entry = batch.setdefault((message.partition, scope, start), (message.offset, {}))
                    entry[1][call_id] = row
                    admitted = True
            if admitted and self.embedder.wants(call_id):
                wanted.append((call.tenant_id, prompt_text(call.data), row))
        return outcomes, batch, wanted

    def open_windows(self, tenant: str, limit: int) -> list[OpenWindow]:
        """``tenant``'s open windows with the calls each holds, oldest first, at most ``limit``."""
        ordered = sorted(self.entries.held(tenant), key=lambda held: (held[1], held[0]))[:limit]
        return [
            OpenWindow(app=scope.app, environment=scope.environment, model=scope.model, prompt_name=scope.prompt_name,
                       prompt_version=scope.prompt_version, start=_iso(start), end=_iso(start + self.windowing.size),
                       calls=calls)
            for scope, start, calls in ordered
        ]  # fmt: skip

    async def _close_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.close_interval_s)
            self.recovery_watch.stuck()  # samples the recovery's progress between probes (and logs a stall once)
            try:
                if await self.ready():
                    for tp in await self._mender.mend(self.app.consumer):  # a message faust never handed over
                        log.warning("reading %s again from its committed offset: a message there was skipped", tp)
                    await self.close_due()
            except Exception as exc:  # the next round tries again: the entries are still there
                log_unexpected(log, "closing windows failed", exc)

    async def close_due(self) -> int:
        """Check, publish and forget every window past its end and grace; how many were closed."""
        OPEN_ENTRIES.set(self.entries.calls_held())
        closed = self.entries.closable(self.windowing, self.clock())
        for window in closed:
            await self._close(window)
        return len(closed)

    async def _close(self, window: ClosedWindow) -> None:
        partition, calls = self.entries.calls(window)
        span = TimeWindow(start=_iso(window.start), end=_iso(window.end))
        joined = await self.references.with_outcomes(window.scope, span.start, span.end, calls)  # scores, feedback
        rows = joined.rows
        reference, baseline = await self.references.reference(window.scope, span, self.reference_rows.data)
        report = await asyncio.to_thread(
            build_report, window.scope, span, reference, rows, baseline, config=self.config,
            min_samples=self.settings.min_samples, include_platform=self.settings.include_platform, notes=joined.notes,
            reference_notes=self.references.notes(window.scope),
        )  # fmt: skip
        event = CloudEvent.wrap(
            report, source=self.settings.source, tenant_id=window.scope.tenant, event_id=report.report_id
        )
        await self.out.publish_many([event])
        REPORTS.labels({True: "drift", False: "no_drift", None: "no_verdict"}[report.dataset_drift]).inc()
        self.entries.forget(window, partition)
        update = self.references.after_close(window.scope, span, rows, self.reference_rows.data)
        if update is not None:
            pop_both(self.reference_rows.data, window.scope.encode())
            self.reference_rows.data[window.scope.encode()] = update
            self.reference_rows.send_changelog(partition, window.scope.encode(), update)
