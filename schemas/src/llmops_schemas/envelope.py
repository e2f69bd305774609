"""The CloudEvents 1.0 envelope every platform event travels in.

Attributes follow the CloudEvents 1.0 JSON format. The platform adds three extension attributes: ``tenantid``,
``traceid`` and ``keyid`` (the id of the API key under which the producing service accepted the event; never the
key itself, never taken from a client's payload). CloudEvents requires extension names to be lower-case letters
and digits only, so on the wire they carry no underscore; in Python they read ``tenant_id``, ``trace_id`` and
``key_id`` (see docs/adr/0003-event-envelope.md).
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, Literal, TypeVar, cast

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from llmops_schemas.ids import new_uuid7

__all__ = ["EVENT_TYPE_PATTERN", "CloudEvent", "EventPayload", "TenantId", "envelope_class"]

EVENT_TYPE_PATTERN = r"^llmops\.[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*\.v[1-9][0-9]*$"
TENANT_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"

TenantId = str


class EventPayload(BaseModel):
    """Base of every event payload (the CloudEvents ``data``).

    Producers are strict (unknown fields are rejected); consumers read with ``tolerant()`` so that
    an additive change by a newer producer never breaks an older consumer.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)

    event_type: ClassVar[str]
    """The CloudEvents ``type`` this payload is published as, ``llmops.<domain>.<fact>.v<N>``."""
    topic: ClassVar[str]
    """The Kafka topic (see infra/kafka/topics.yaml) this payload is published to."""

    @classmethod
    def dataschema(cls) -> str:
        """URI of the committed JSON Schema of this payload."""
        return f"urn:llmops:schema:{cls.event_type}"

    @classmethod
    def tolerant(cls, data: Any) -> Any:
        """Validate ``data`` as a consumer would: unknown fields, at any depth, are ignored, not rejected."""
        from llmops_schemas.registry import tolerant_validate  # the registry imports this module

        return tolerant_validate(cls, data)


DataT = TypeVar("DataT", bound=EventPayload)


class CloudEvent(BaseModel, Generic[DataT]):
    """A CloudEvents 1.0 event carrying a platform payload in ``data``."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(default_factory=new_uuid7, min_length=1, max_length=64, description="UUIDv7")
    source: str = Field(min_length=1, max_length=256, description="URI-reference of the producer")
    type: str = Field(pattern=EVENT_TYPE_PATTERN)
    time: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    subject: str | None = Field(default=None, max_length=256)
    dataschema: str | None = None
    datacontenttype: Literal["application/json"] = "application/json"
    tenant_id: str = Field(alias="tenantid", pattern=TENANT_PATTERN)
    trace_id: str | None = Field(default=None, alias="traceid", max_length=64)
    key_id: str | None = Field(
        default=None,
        alias="keyid",
        max_length=128,
        description="Id of the API key the producing service authenticated for this event (absent when none did)",
    )
    data: DataT

    @classmethod
    def wrap(
        cls,
        payload: DataT,
        *,
        source: str,
        tenant_id: str,
        event_id: str | None = None,
        subject: str | None = None,
        trace_id: str | None = None,
        key_id: str | None = None,
        time: datetime | None = None,
    ) -> CloudEvent[DataT]:
        """Envelope ``payload`` with the attributes derived from its class (``time``: now, unless given)."""
        extra: dict[str, Any] = {"id": event_id} if event_id else {}
        if time is not None:
            extra["time"] = time
        # Parametrise with the payload's own class so that serialisation keeps all of its fields.
        concrete = cast("type[CloudEvent[DataT]]", envelope_class(type(payload)))
        return concrete(
            source=source,
            type=payload.event_type,
            dataschema=payload.dataschema(),
            subject=subject,
            tenant_id=tenant_id,
            trace_id=trace_id,
            key_id=key_id,
            data=payload,
            **extra,
        )

    def to_json_bytes(self) -> bytes:
        """Serialise in the CloudEvents JSON format (extension names as on the wire).

        The bytes ``model_dump_json(by_alias=True, exclude_none=True)`` encodes, straight from pydantic's
        serialiser: ``model_dump_json`` decodes them into a ``str`` first (4 of 10 us for a gateway call event).
        """
        return self.__pydantic_serializer__.to_json(self, by_alias=True, exclude_none=True)


@functools.cache
def envelope_class(payload_class: type[EventPayload]) -> type[CloudEvent[Any]]:
    """``CloudEvent[payload_class]``, looked up once.

    pydantic's own lookup of a parametrisation costs a few microseconds, which hot paths paid per record.
    """
    return cast("type[CloudEvent[Any]]", CloudEvent[payload_class])  # type: ignore[valid-type]
