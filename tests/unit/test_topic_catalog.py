"""The topic catalog (infra/kafka/topics.yaml) and its model: no broker needed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from llmops_kit.kafka.topics import (
    TopicCatalog,
    TopicCatalogError,
    default_catalog_path,
    dlq_topic,
    ensure_topics,
    parse_retention,
)

DAY_MS = 86_400_000

EXPECTED_TOPICS = {
    "llmops.calls.raw",
    "llmops.calls.recorded",
    "llmops.evaluations.scored",
    "llmops.feedback.received",
    "llmops.drift.reports",
    "llmops.costs.recorded",
    "llmops.budgets.events",
    "llmops.audit.records",
    "llmops.audit.chain",
    "llmops.audit.digests",
    "llmops.audit.heads",
    "llmops.alerts",
    "llmops.erasure.requests",
    "llmops.erasure.receipts",
    "llmops.prompts.versions",
    "llmops.experiments",
    "llmops.policies",
    "llmops.prices",
    "llmops.budgets.config",
    "llmops.evaluations.config",
    "llmops.review.queues",
    "llmops.review.items",
    "llmops.evaluations.policies",
    "llmops.evaluations.datasets",
    "llmops.evaluations.runs",
    "llmops.evaluations.replays",
    "llmops.alerting.config",
    "llmops.alerting.outbox",
    "llmops.governance.keys",
    "llmops.drift.windows",
    "llmops.drift.references",
    "llmops.drift.judges",
}
COMPACTED = {
    "llmops.audit.heads",
    "llmops.prompts.versions",
    "llmops.experiments",
    "llmops.policies",
    "llmops.prices",
    "llmops.budgets.config",
    "llmops.evaluations.config",
    "llmops.review.queues",
    "llmops.review.items",
    "llmops.evaluations.policies",
    "llmops.evaluations.datasets",
    "llmops.evaluations.runs",
    "llmops.evaluations.replays",
    "llmops.alerting.config",
    "llmops.alerting.outbox",
    "llmops.governance.keys",
    "llmops.drift.windows",
    "llmops.drift.references",
    "llmops.drift.judges",
}
# Names that do not follow llmops.<domain>.<fact>. Adding one here should be a deliberate choice.
NAMING_EXCEPTIONS = {"llmops.alerts", "llmops.experiments", "llmops.policies", "llmops.prices"}
CONVENTION = re.compile(r"^llmops\.[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")

VALID_TOPIC = """
  - name: llmops.things.happened
    partitions: 3
    retention: 7d
    cleanup_policy: delete
    key: tenant_id
    dlq: true
    producers: [ingest]
    description: things that happened
"""


@pytest.fixture(scope="module")
def catalog() -> TopicCatalog:
    return TopicCatalog.load()


def test_catalog_file_is_in_infra_kafka() -> None:
    assert default_catalog_path().parts[-3:] == ("infra", "kafka", "topics.yaml")


def test_catalog_loads_with_expected_topics(catalog: TopicCatalog) -> None:
    assert set(catalog.names()) == EXPECTED_TOPICS
    assert len(catalog.names()) == len(EXPECTED_TOPICS)


@pytest.mark.parametrize("name", sorted(EXPECTED_TOPICS))
def test_topic_names_follow_convention(name: str) -> None:
    assert CONVENTION.match(name) or name in NAMING_EXCEPTIONS, name


def test_compacted_topics_have_no_dlq_and_no_retention(catalog: TopicCatalog) -> None:
    compacted = {t.name for t in catalog.topics if t.cleanup_policy == "compact"}
    assert compacted == COMPACTED
    for topic in catalog.topics:
        if topic.cleanup_policy == "compact":
            assert not topic.dlq and topic.dlq_name is None, topic.name
            assert topic.retention is None, topic.name
            assert topic.topic_configs()["cleanup.policy"] == "compact"


def test_event_topics_have_dlq_and_retention(catalog: TopicCatalog) -> None:
    for topic in catalog.topics:
        if topic.cleanup_policy == "delete":
            assert topic.dlq and topic.dlq_name == f"{topic.name}.dlq", topic.name
            assert topic.retention is not None and topic.retention >= DAY_MS, topic.name
            assert topic.topic_configs() == {"cleanup.policy": "delete", "retention.ms": str(topic.retention)}


def test_partition_counts_are_modest(catalog: TopicCatalog) -> None:
    assert all(3 <= t.partitions <= 6 for t in catalog.topics)


def test_specific_contracts(catalog: TopicCatalog) -> None:
    recorded = catalog.get("llmops.calls.recorded")
    assert recorded.partitions == 6
    assert recorded.key == "tenant_id"
    assert catalog.get("llmops.calls.raw").dlq
    # costs are joined with calls per tenant: same key, same partition count
    costs = catalog.get("llmops.costs.recorded")
    assert (costs.key, costs.partitions) == (recorded.key, recorded.partitions)
    audit = catalog.get("llmops.audit.records")
    assert audit.retention is not None and audit.retention >= 365 * DAY_MS
    assert max(t.retention or 0 for t in catalog.topics) == audit.retention


def test_all_topic_names_lists_dlqs(catalog: TopicCatalog) -> None:
    names = catalog.all_topic_names()
    assert "llmops.calls.recorded.dlq" in names
    assert "llmops.prices.dlq" not in names
    assert len(names) == len(EXPECTED_TOPICS) + len(EXPECTED_TOPICS - COMPACTED)
    spec = catalog.get("llmops.calls.recorded")
    assert catalog.dlq_configs(spec) == {"cleanup.policy": "delete", "retention.ms": str(14 * DAY_MS)}


def test_get_unknown_topic(catalog: TopicCatalog) -> None:
    with pytest.raises(KeyError, match=r"llmops\.nope"):
        catalog.get("llmops.nope")


def test_dlq_topic() -> None:
    assert dlq_topic("llmops.calls.recorded") == "llmops.calls.recorded.dlq"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7d", 7 * DAY_MS),
        ("12h", 12 * 3_600_000),
        ("30m", 1_800_000),
        ("45s", 45_000),
        ("500ms", 500),
        ("2w", 14 * DAY_MS),
        (86_400_000, DAY_MS),
        ("86400000", DAY_MS),
        ("infinite", -1),
        (-1, -1),
    ],
)
def test_parse_retention(value: object, expected: int) -> None:
    assert parse_retention(value) == expected


@pytest.mark.parametrize("value", ["7 days", "0d", "", "d", 0, -5, True, 1.5, None])
def test_parse_retention_rejects(value: object) -> None:
    with pytest.raises(ValueError, match="retention"):
        parse_retention(value)


def _catalog(topics_yaml: str, head: str = "version: 1\n") -> str:
    return f"{head}topics:{topics_yaml}"


def test_minimal_catalog_parses() -> None:
    catalog = TopicCatalog.parse_yaml(_catalog(VALID_TOPIC))
    assert catalog.get("llmops.things.happened").retention == 7 * DAY_MS
    assert catalog.defaults.replication_factor == 3


@pytest.mark.parametrize(
    ("mutation", "message"),
    [
        (("cleanup_policy: delete", "cleanup_policy: compact"), "compacted topics have no DLQ"),
        (("    retention: 7d\n", ""), "delete topics need a retention"),
        (("retention: 7d", "retention: a week"), "is not a duration"),
        (("llmops.things.happened", "llmops.Things"), "must look like llmops.<domain>.<fact>"),
        (("llmops.things.happened", "llmops.things.dlq"), "DLQ topics are derived"),
        (("partitions: 3", "partitions: 0"), "greater than or equal to 1"),
        (("partitions: 3", "partition: 3"), "partition"),  # typo -> extra field forbidden
        (("cleanup_policy: delete", "cleanup_policy: compact,delete"), "'delete' or 'compact'"),
        (("    key: tenant_id\n", ""), "key"),
    ],
)
def test_bad_catalog_gives_clear_error(mutation: tuple[str, str], message: str) -> None:
    text = _catalog(VALID_TOPIC.replace(*mutation))
    with pytest.raises(TopicCatalogError) as info:
        TopicCatalog.parse_yaml(text, source="bad.yaml")
    assert "invalid topic catalog bad.yaml" in str(info.value)
    assert message in str(info.value)


def test_error_names_the_offending_topic() -> None:
    other = VALID_TOPIC.replace("things.happened", "other.happened").replace("partitions: 3", "partitions: -1")
    with pytest.raises(TopicCatalogError, match=r"topics\.1\(llmops\.other\.happened\)\.partitions"):
        TopicCatalog.parse_yaml(_catalog(VALID_TOPIC + other))


def test_compacted_topic_with_retention_rejected() -> None:
    compacted = VALID_TOPIC.replace("cleanup_policy: delete", "cleanup_policy: compact")
    text = _catalog(compacted.replace("dlq: true", "dlq: false"))
    with pytest.raises(TopicCatalogError, match="retention does not apply to compacted topics"):
        TopicCatalog.parse_yaml(text)


def test_reserved_configs_rejected() -> None:
    text = _catalog(VALID_TOPIC + '    configs: {"retention.ms": "1"}\n')
    with pytest.raises(TopicCatalogError, match="through cleanup_policy/retention"):
        TopicCatalog.parse_yaml(text)


def test_duplicate_names_rejected() -> None:
    with pytest.raises(TopicCatalogError, match="duplicate topic names"):
        TopicCatalog.parse_yaml(_catalog(VALID_TOPIC + VALID_TOPIC))


def test_not_yaml_and_wrong_shape() -> None:
    with pytest.raises(TopicCatalogError, match="not valid YAML"):
        TopicCatalog.parse_yaml("topics: [unclosed")
    with pytest.raises(TopicCatalogError, match="topics"):
        TopicCatalog.parse_yaml("version: 1\n")
    with pytest.raises(TopicCatalogError, match="version"):
        TopicCatalog.parse_yaml(_catalog(VALID_TOPIC, head="version: 2\n"))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TopicCatalogError, match="cannot read topic catalog"):
        TopicCatalog.load(tmp_path / "nope.yaml")


def test_env_overrides_catalog_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "topics.yaml"
    path.write_text(_catalog(VALID_TOPIC))
    monkeypatch.setenv("LLMOPS_TOPICS_FILE", str(path))
    assert default_catalog_path() == path
    assert TopicCatalog.load().names() == ["llmops.things.happened"]


async def test_ensure_topics_rejects_unknown_names_before_connecting(catalog: TopicCatalog) -> None:
    with pytest.raises(KeyError, match=r"llmops\.nope"):
        await ensure_topics("127.0.0.1:1", catalog, ["llmops.calls.recorded", "llmops.nope"])


def test_every_topic_names_its_producers_and_services_that_exist(catalog: TopicCatalog) -> None:
    services = {p.name for p in (Path(__file__).resolve().parents[2] / "services").iterdir() if p.is_dir()}
    planned = {"evaluation", "drift-detection", "feedback", "governance-audit", "cost", "alerting"}
    for topic in catalog.topics:
        assert topic.producers, topic.name
        unknown = set(topic.producers + topic.consumers) - services - planned - {"external"}
        assert not unknown, f"{topic.name}: {unknown}"
    assert "llmops.calls.recorded" in catalog.produced_by("inference")
    assert catalog.consumed_by("warehouse") == [t.name for t in catalog.topics if "warehouse" in t.consumers]


def test_a_service_listed_twice_is_refused() -> None:
    doubled = VALID_TOPIC.replace("producers: [ingest]", "producers: [ingest, ingest]")
    with pytest.raises(TopicCatalogError, match="lists a service twice"):
        TopicCatalog.parse_yaml("version: 1\ntopics:" + doubled)


def test_a_topic_without_producers_is_refused() -> None:
    with pytest.raises(TopicCatalogError, match="producers"):
        TopicCatalog.parse_yaml("version: 1\ntopics:" + VALID_TOPIC.replace("    producers: [ingest]\n", ""))
