"""Kafka ACLs derived from the topic catalog: each service may write only the topics it owns.

One principal per service, ``User:<service>`` (the service's directory name, its SCRAM user name):

- a producer of a topic gets WRITE and DESCRIBE on it;
- a consumer gets READ on it, WRITE on its ``.dlq`` and READ on the consumer groups named after it
  (prefix ``<service>``: ``warehouse``, ``ingest-raw``);
- every service that writes gets IDEMPOTENT_WRITE on the cluster (the platform's producers are idempotent;
  Kafka >= 2.8 implies it from WRITE, older brokers need it).

Creating topics is the admin's job (``llmops kafka acls --apply`` creates them first), so services get no
CREATE::

    bindings = catalog_acls(TopicCatalog.load())
    await apply_acls("broker:9092", bindings, security=admin_security)

aiokafka's admin client has no ``create_acls``, but aiokafka ships the CreateAcls protocol messages; this
module sends them over an ``AIOKafkaClient`` (docs/adr/0009-kafka-security.md says why not a JVM tool).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

from aiokafka.errors import for_code
from aiokafka.protocol.admin import CreateAclsRequest

from llmops_kit.kafka.security import open_client
from llmops_kit.kafka.topics import TopicCatalog
from llmops_kit.settings import KafkaSecurity

__all__ = [
    "AclBinding",
    "AclError",
    "Operation",
    "PatternType",
    "ResourceType",
    "apply_acls",
    "catalog_acls",
    "principal",
]

CLUSTER_RESOURCE = "kafka-cluster"
_ALLOW = 3  # AclPermissionType.ALLOW
_ANY_HOST = "*"


class ResourceType(IntEnum):
    """Kafka's ``ResourceType`` codes (the ones the platform grants on)."""

    TOPIC = 2
    GROUP = 3
    CLUSTER = 4


class PatternType(IntEnum):
    LITERAL = 3
    PREFIXED = 4


class Operation(IntEnum):
    """Kafka's ``AclOperation`` codes."""

    READ = 3
    WRITE = 4
    DESCRIBE = 8
    IDEMPOTENT_WRITE = 12


class AclError(RuntimeError):
    """The broker refused to create one or more ACLs."""


@dataclass(frozen=True, order=True)
class AclBinding:
    """ALLOW ``operation`` on a resource to ``principal``, from any host."""

    principal: str
    resource_type: ResourceType
    resource_name: str
    operation: Operation
    pattern: PatternType = PatternType.LITERAL

    def __str__(self) -> str:
        prefix = "*" if self.pattern is PatternType.PREFIXED else ""
        return f"{self.principal} {self.operation.name} {self.resource_type.name.lower()}:{self.resource_name}{prefix}"


def principal(service: str) -> str:
    """The Kafka principal of ``service`` (its SCRAM user name is the service name)."""
    return f"User:{service}"


def catalog_acls(catalog: TopicCatalog) -> list[AclBinding]:
    """The ACLs the catalog's ``producers:``/``consumers:`` imply, sorted, without duplicates."""
    bindings: set[AclBinding] = set()
    for spec in catalog.topics:
        for service in spec.producers:
            bindings.update(_writes(service, spec.name))
        for service in spec.consumers:
            user = principal(service)
            bindings.add(AclBinding(user, ResourceType.TOPIC, spec.name, Operation.READ))
            bindings.add(AclBinding(user, ResourceType.TOPIC, spec.name, Operation.DESCRIBE))
            # The group named after the service, or prefixed "<service>-": a bare prefix "eval" would also
            # grant the groups of a service named "evaluation".
            bindings.add(AclBinding(user, ResourceType.GROUP, service, Operation.READ))
            bindings.add(AclBinding(user, ResourceType.GROUP, f"{service}-", Operation.READ, PatternType.PREFIXED))
            if spec.dlq_name:
                bindings.update(_writes(service, spec.dlq_name))
    return sorted(bindings)


def _writes(service: str, topic: str) -> list[AclBinding]:
    user = principal(service)
    return [
        AclBinding(user, ResourceType.TOPIC, topic, Operation.WRITE),
        AclBinding(user, ResourceType.TOPIC, topic, Operation.DESCRIBE),
        AclBinding(user, ResourceType.CLUSTER, CLUSTER_RESOURCE, Operation.IDEMPOTENT_WRITE),
    ]


async def apply_acls(
    bootstrap_servers: str,
    bindings: Iterable[AclBinding],
    *,
    security: KafkaSecurity | None = None,
    timeout_s: float = 30.0,
) -> None:
    """Create ``bindings`` on the cluster (creating an existing ACL is a no-op); raises :class:`AclError`.

    ``security`` must be a principal allowed to ALTER the cluster (a super user).
    """
    bindings = list(bindings)
    async with open_client(bootstrap_servers, security, client_id="llmops-acls", timeout_s=timeout_s) as client:
        node = client.get_random_node()
        responses = await asyncio.gather(*(client.send(node, _request(binding)) for binding in bindings))
    failures = [
        f"{binding}: {message or for_code(code).__name__}"
        for binding, response in zip(bindings, responses, strict=True)
        for code, message in response.creation_responses
        if code != 0
    ]
    if failures:
        raise AclError("could not create ACLs: " + "; ".join(failures))


def _request(binding: AclBinding) -> CreateAclsRequest:
    return CreateAclsRequest(
        resource_type=binding.resource_type,
        resource_name=binding.resource_name,
        resource_pattern_type_filter=binding.pattern,
        principal=binding.principal,
        host=_ANY_HOST,
        operation=binding.operation,
        permission_type=_ALLOW,
    )
