"""Prometheus metrics every service exposes on ``/metrics``."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = ["CONSUMER_LAG", "EVENTS_FAILED", "EVENTS_IN", "EVENTS_OUT", "HANDLER_LATENCY", "HTTP_REQUESTS"]

EVENTS_IN = Counter("llmops_events_in_total", "Events consumed from Kafka", ["service", "topic"])
EVENTS_OUT = Counter("llmops_events_out_total", "Events published to Kafka", ["service", "topic"])
EVENTS_FAILED = Counter(
    "llmops_events_failed_total", "Events that failed, by where they went", ["service", "topic", "reason"]
)
HANDLER_LATENCY = Histogram(
    "llmops_handler_latency_seconds",
    "Time a consumer handler took for one batch",
    ["service", "topic"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CONSUMER_LAG = Gauge("llmops_consumer_lag", "Messages behind the high watermark", ["service", "topic", "partition"])
HTTP_REQUESTS = Histogram(
    "llmops_http_request_duration_seconds",
    "HTTP request latency by route and status",
    ["service", "method", "route", "status"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
