"""The platform's Kafka topic catalog (``infra/kafka/topics.yaml``) and topic provisioning.

    catalog = TopicCatalog.load()                 # $LLMOPS_TOPICS_FILE or <repo>/infra/kafka/topics.yaml
    spec = catalog.get("llmops.calls.recorded")
    created = await ensure_topics("127.0.0.1:9092", catalog)   # idempotent

Every topic with ``dlq: true`` has a dead-letter topic named ``dlq_topic(name)``.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, TopicAuthorizationFailedError, for_code
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from llmops_kit.infra.paths import kafka_infra_dir
from llmops_kit.kafka.security import client_kwargs
from llmops_kit.settings import KafkaSecurity

__all__ = [
    "DLQ_SUFFIX",
    "ENV_TOPICS_FILE",
    "EXTERNAL",
    "CatalogDefaults",
    "ServiceName",
    "TopicCatalog",
    "TopicCatalogError",
    "TopicProvisioningError",
    "TopicSpec",
    "default_catalog_path",
    "dlq_topic",
    "ensure_topics",
    "parse_retention",
]

ENV_TOPICS_FILE = "LLMOPS_TOPICS_FILE"
DLQ_SUFFIX = ".dlq"

# llmops.<domain>.<fact> is the convention; llmops.<domain> is tolerated for config/stream topics.
_NAME_RE = re.compile(r"^llmops(\.[a-z][a-z0-9_]*){1,2}$")
_DURATION_RE = re.compile(r"^\s*(\d+)\s*(ms|s|m|h|d|w)\s*$")
_UNIT_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_RESERVED_CONFIGS = frozenset({"cleanup.policy", "retention.ms"})

EXTERNAL = "external"
"""The producer/consumer name for applications outside the platform (kcat, SDK sidecars)."""

ServiceName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,62}$")]
"""A service's directory name under ``services/`` (``drift-detection``), or :data:`EXTERNAL`."""


def dlq_topic(name: str) -> str:
    """The dead-letter topic of ``name``: ``<name>.dlq``."""
    return name + DLQ_SUFFIX


def parse_retention(value: object) -> int:
    """``7d`` / ``12h`` / ``30m`` / ``45s`` / ``500ms`` / ``2w`` / ms as int / ``infinite`` -> ms (-1)."""
    if isinstance(value, bool):
        raise ValueError("retention must be a duration like '7d' or milliseconds, not a boolean")
    if isinstance(value, int):
        if value < -1 or value == 0:
            raise ValueError(f"retention must be positive milliseconds or -1 (infinite), got {value}")
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in {"infinite", "forever", "-1"}:
            return -1
        if text.isdigit():
            return parse_retention(int(text))
        match = _DURATION_RE.match(text)
        if match and int(match.group(1)) > 0:
            return int(match.group(1)) * _UNIT_MS[match.group(2)]
    raise ValueError(f"retention {value!r} is not a duration: use milliseconds, <n>ms|s|m|h|d|w, or 'infinite'")


RetentionMs = Annotated[int, BeforeValidator(parse_retention)]


class TopicSpec(BaseModel):
    """One catalog entry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    partitions: int = Field(ge=1, le=64)
    retention: RetentionMs | None = None
    """Milliseconds (-1 = infinite). Required for ``delete`` topics, absent for ``compact``."""
    cleanup_policy: Literal["delete", "compact"]
    key: str = Field(min_length=1)
    dlq: bool
    description: str = Field(min_length=1)
    configs: dict[str, str] = Field(default_factory=dict)
    dlq_retention: RetentionMs | None = None
    """Overrides ``defaults.dlq_retention`` for this topic's DLQ."""
    producers: list[ServiceName] = Field(min_length=1)
    """The services that publish to the topic: Kafka ACLs grant write to these principals only."""
    consumers: list[ServiceName] = Field(default_factory=list)
    """The services that consume it (each also writes the topic's DLQ): ACLs grant them read."""

    @model_validator(mode="after")
    def _check(self) -> TopicSpec:
        if not _NAME_RE.match(self.name):
            raise ValueError(
                f"topic name {self.name!r} must look like llmops.<domain>.<fact> "
                "(lowercase letters, digits, underscores)"
            )
        if self.name.endswith(DLQ_SUFFIX):
            raise ValueError(f"{self.name!r}: DLQ topics are derived from 'dlq: true', do not list them")
        if self.cleanup_policy == "compact":
            if self.dlq:
                raise ValueError(f"{self.name!r}: compacted topics have no DLQ (set dlq: false)")
            if self.retention is not None:
                raise ValueError(f"{self.name!r}: retention does not apply to compacted topics")
        elif self.retention is None:
            raise ValueError(f"{self.name!r}: delete topics need a retention (e.g. 7d)")
        if not self.dlq and self.dlq_retention is not None:
            raise ValueError(f"{self.name!r}: dlq_retention given but dlq is false")
        for role, names in (("producers", self.producers), ("consumers", self.consumers)):
            if len(set(names)) != len(names):
                raise ValueError(f"{self.name!r}: {role} lists a service twice")
        reserved = _RESERVED_CONFIGS & self.configs.keys()
        if reserved:
            raise ValueError(f"{self.name!r}: set {sorted(reserved)} through cleanup_policy/retention, not configs")
        return self

    @property
    def dlq_name(self) -> str | None:
        return dlq_topic(self.name) if self.dlq else None

    def topic_configs(self) -> dict[str, str]:
        """Topic-level Kafka configs to create the topic with."""
        configs = {"cleanup.policy": self.cleanup_policy, **self.configs}
        if self.retention is not None:
            configs["retention.ms"] = str(self.retention)
        return configs


class CatalogDefaults(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    replication_factor: int = Field(default=3, ge=1)
    """Upper bound; capped at the number of brokers when topics are created."""
    dlq_retention: RetentionMs = 14 * 86_400_000
    dlq_partitions: int = Field(default=1, ge=1, le=64)


class TopicCatalogError(ValueError):
    """The catalog file is missing, not YAML, or fails validation."""


class TopicCatalog(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    defaults: CatalogDefaults = Field(default_factory=CatalogDefaults)
    topics: list[TopicSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> TopicCatalog:
        counts = Counter(t.name for t in self.topics)
        dupes = sorted(name for name, n in counts.items() if n > 1)
        if dupes:
            raise ValueError(f"duplicate topic names: {dupes}")
        return self

    # -- loading ------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path | str | None = None) -> TopicCatalog:
        """Load and validate a catalog file (default: :func:`default_catalog_path`)."""
        source = Path(path) if path is not None else default_catalog_path()
        try:
            text = source.read_text(encoding="utf-8")
        except OSError as exc:
            raise TopicCatalogError(f"cannot read topic catalog {source}: {exc}") from exc
        return cls.parse_yaml(text, source=str(source))

    @classmethod
    def parse_yaml(cls, text: str, source: str = "<string>") -> TopicCatalog:
        try:
            data: Any = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise TopicCatalogError(f"topic catalog {source} is not valid YAML: {exc}") from exc
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise TopicCatalogError(f"invalid topic catalog {source}:\n{_describe(exc, data)}") from exc

    # -- queries ------------------------------------------------------------------------------

    def get(self, name: str) -> TopicSpec:
        for topic in self.topics:
            if topic.name == name:
                return topic
        raise KeyError(f"topic {name!r} is not in the catalog")

    def names(self) -> list[str]:
        """Catalog topic names, in file order (DLQs not included)."""
        return [t.name for t in self.topics]

    def all_topic_names(self) -> list[str]:
        """Every topic the catalog implies: each topic followed by its DLQ, if any."""
        out: list[str] = []
        for topic in self.topics:
            out.append(topic.name)
            if topic.dlq_name:
                out.append(topic.dlq_name)
        return out

    def produced_by(self, service: str) -> list[str]:
        """The catalog topics ``service`` publishes to, in file order."""
        return [t.name for t in self.topics if service in t.producers]

    def consumed_by(self, service: str) -> list[str]:
        """The catalog topics ``service`` consumes, in file order."""
        return [t.name for t in self.topics if service in t.consumers]

    def dlq_configs(self, spec: TopicSpec) -> dict[str, str]:
        retention = spec.dlq_retention if spec.dlq_retention is not None else self.defaults.dlq_retention
        return {"cleanup.policy": "delete", "retention.ms": str(retention)}


def _describe(exc: ValidationError, data: Any) -> str:
    """Pydantic errors with 'topics.3' replaced by the topic's name where possible."""
    lines = []
    for err in exc.errors():
        loc = list(err["loc"])
        if len(loc) >= 2 and loc[0] == "topics" and isinstance(loc[1], int):
            try:
                name = data["topics"][loc[1]].get("name")
            except (KeyError, IndexError, TypeError, AttributeError):
                name = None
            if name:
                loc[1] = f"{loc[1]}({name})"
        where = ".".join(str(p) for p in loc) or "<root>"
        lines.append(f"  {where}: {err['msg']}")
    return "\n".join(lines)


def default_catalog_path() -> Path:
    """``$LLMOPS_TOPICS_FILE`` or ``<repo>/infra/kafka/topics.yaml``."""
    env = os.environ.get(ENV_TOPICS_FILE)
    return Path(env).expanduser() if env else kafka_infra_dir() / "topics.yaml"


class TopicProvisioningError(RuntimeError):
    """The broker refused to create one or more topics."""


async def ensure_topics(
    bootstrap_servers: str,
    catalog: TopicCatalog,
    names: Iterable[str] | None = None,
    *,
    replication_factor: int | None = None,
    timeout_s: float = 30.0,
    security: KafkaSecurity | None = None,
) -> list[str]:
    """Create the catalog topics (and their ``.dlq`` topics) that do not exist yet.

    ``names`` restricts to these catalog topics (each still gets its DLQ). Existing topics are
    left alone, whatever their config; a concurrent creator winning the race is fine. Returns
    the names this call created, in catalog order, after the broker reports them with leaders.
    ``replication_factor`` defaults to ``catalog.defaults.replication_factor`` capped at the
    number of brokers. Under ACLs (docs/kafka-security.md) a DLQ this principal may not create is
    left to the admin; a named topic it may not create fails the call.
    """
    if names is None:
        specs = list(catalog.topics)
    else:
        wanted = list(dict.fromkeys(names))
        unknown = [n for n in wanted if n not in catalog.names()]
        if unknown:
            raise KeyError(f"not in the topic catalog: {unknown}")
        specs = [catalog.get(n) for n in wanted]

    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=int(timeout_s * 1000), **client_kwargs(security)
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        if replication_factor is None:
            brokers = (await admin.describe_cluster()).get("brokers") or []
            replication_factor = max(1, min(catalog.defaults.replication_factor, len(brokers)))

        new_topics: list[NewTopic] = []
        for spec in specs:
            if spec.name not in existing:
                new_topics.append(
                    NewTopic(spec.name, spec.partitions, replication_factor, topic_configs=spec.topic_configs())
                )
            if spec.dlq_name and spec.dlq_name not in existing:
                new_topics.append(
                    NewTopic(
                        spec.dlq_name,
                        catalog.defaults.dlq_partitions,
                        replication_factor,
                        topic_configs=catalog.dlq_configs(spec),
                    )
                )
        if not new_topics:
            return []
        dlqs = {spec.dlq_name for spec in specs if spec.dlq_name}

        response = await admin.create_topics(new_topics, timeout_ms=int(timeout_s * 1000))
        created: list[str] = []
        failures: list[str] = []
        for entry in response.to_object()["topic_errors"]:
            code = entry["error_code"]
            if code == 0:
                created.append(entry["topic"])
            elif code == TopicAuthorizationFailedError.errno and entry["topic"] in dlqs:
                # Under ACLs only a topic's consumers see its DLQ (they write it); the admin creates topics.
                continue
            elif code != TopicAlreadyExistsError.errno:
                message = entry.get("error_message") or for_code(code).__name__
                if code == TopicAuthorizationFailedError.errno:
                    message += " (this principal may not create topics: `llmops kafka acls --apply` as the admin)"
                failures.append(f"{entry['topic']}: {message}")
        if failures:
            raise TopicProvisioningError("could not create topics: " + "; ".join(failures))

        await _wait_for_leaders(admin, created, timeout_s)
        order = {t.name: i for i, t in enumerate(new_topics)}
        return sorted(created, key=order.__getitem__)
    finally:
        await admin.close()


async def _wait_for_leaders(admin: AIOKafkaAdminClient, topics: list[str], timeout_s: float) -> None:
    """Block until the broker's metadata shows every topic with a leader on each partition."""
    deadline = time.monotonic() + timeout_s
    pending = set(topics)
    while pending:
        for meta in await admin.describe_topics(sorted(pending)):
            partitions = meta.get("partitions") or []
            if meta["error_code"] == 0 and partitions and all(p["leader"] >= 0 for p in partitions):
                pending.discard(meta["topic"])
        if not pending:
            return
        if time.monotonic() > deadline:
            raise TopicProvisioningError(f"topics created but without leaders after {timeout_s}s: {pending}")
        await asyncio.sleep(0.1)
