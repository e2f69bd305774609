"""The gateway's own metrics, next to the kit's (``llmops_events_*``, ``llmops_http_*``).

Labels are bounded: model names come from the routes file and upstream names from server config; no tenant
or key label (unbounded).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "BREAKER_STATE",
    "CALLS",
    "EVENTS_LOST",
    "EVENTS_REFUSED",
    "EVENTS_SPOOLED",
    "EVENTS_UNPUBLISHED",
    "RATE_LIMITED",
    "RECORD_BUFFER",
    "REDACTION_FALLBACKS",
    "SPOOL_BYTES",
    "SPOOL_PENDING",
    "UPSTREAM_ATTEMPTS",
    "UPSTREAM_LATENCY",
]

CALLS = Counter(
    "llmops_inference_calls_total", "Calls answered, by endpoint, model and outcome", ["endpoint", "model", "status"]
)
UPSTREAM_ATTEMPTS = Counter(
    "llmops_inference_upstream_attempts_total", "Attempts sent to upstreams, by outcome", ["upstream", "outcome"]
)
UPSTREAM_LATENCY = Histogram(
    "llmops_inference_upstream_latency_seconds",
    "Time of successful upstream attempts (to the first byte when streaming)",
    ["upstream"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
BREAKER_STATE = Gauge(
    "llmops_inference_circuit_state", "Circuit breaker per upstream: 0 closed, 1 half-open, 2 open", ["upstream"]
)
RATE_LIMITED = Counter("llmops_inference_rate_limited_total", "Requests refused with 429, by limit", ["limit"])
RECORD_BUFFER = Gauge("llmops_inference_record_buffer", "Call events waiting in memory to be published")
EVENTS_UNPUBLISHED = Counter(
    "llmops_inference_events_unpublished_total", "Call events Kafka did not take when first sent (then spooled)"
)
EVENTS_SPOOLED = Counter(
    "llmops_inference_events_spooled_total", "Call events written to the local spool, by why", ["reason"]
)
SPOOL_PENDING = Gauge("llmops_inference_spool_pending", "Call events in the spool waiting for replay")
SPOOL_BYTES = Gauge("llmops_inference_spool_bytes", "Bytes of the spool's segments on disk")
EVENTS_REFUSED = Counter(
    "llmops_inference_events_refused_total",
    "Call events refused: a bound was reached (overflow_full: memory, spool_full: disk), the tenant's PII policy "
    "blocks what they contain (pii_blocked), or the call's event could not be built (invalid)",
    ["reason"],
)
EVENTS_LOST = Counter(
    "llmops_inference_events_lost_total", "Call events that could be neither published nor spooled (disk errors)"
)
REDACTION_FALLBACKS = Counter(
    "llmops_inference_redaction_fallbacks_total",
    "Batches of call events redacted in the gateway's own process because the redaction process failed (it is "
    "started again for the next batch)",
)
