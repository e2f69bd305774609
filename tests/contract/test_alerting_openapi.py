"""Schemathesis against the alerting service's own OpenAPI document: generated requests (valid and invalid) never
cause a 5xx, and every answer conforms to what the document declares (status codes, content types, schemas).

The app runs in process with the kit's in-memory publisher, an admin key and its stores loaded, so no broker is
needed; one notifier and its secret exist so that rules naming it can be created.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from llmops_alerting.bootstrap import AlertingPorts, create_app
from llmops_alerting.config import AlertingSettings
from llmops_alerting.ports import Secrets
from llmops_alerting.state import AlertBook, ConfigStore, Outbox
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import NotifierConfigured

KEY = "llmops_contract_test_alerting_key_0000000"
HEADERS = {"Authorization": f"Bearer {KEY}"}
MAX_EXAMPLES = 40

_keys = ApiKeyStore([ApiKeyRecord(id="contract", tenant_id="contract", role="admin", sha256=hash_key(KEY))])
_config, _book, _outbox = ConfigStore(), AlertBook(), Outbox()
for _store in (_config, _book, _outbox):
    _store.mark_caught_up()
_notifier = NotifierConfigured(
    notifier_id="pd",
    kind="pagerduty",
    url="https://events.pagerduty.com/v2/enqueue",
    secret_ref="pd",
    updated_by="contract",
    updated_at=datetime.now(UTC),
)
_config.apply(CloudEvent.wrap(_notifier, source="/contract", tenant_id="contract"))
_ports = AlertingPorts(InMemoryPublisher(), _keys, _config, _book, _outbox, secrets=Secrets({"pd": "P" * 32}))
app = create_app(AlertingSettings(), ports=_ports)

config = schemathesis.Config.from_dict(
    {
        "headers": HEADERS,
        "generation": {"max-examples": MAX_EXAMPLES},
        "checks": {
            # Schema-valid bodies can still break rules JSON Schema cannot express (a metric rule needs a metric
            # of the catalog, a silence ends after it starts, notifiers must exist): 422. Generated ids find
            # nothing to read, delete or acknowledge: 404.
            "positive_data_acceptance": {"expected-statuses": ["2xx", "404", "409", "422"]},
        },
    }
)
schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_document(case: Any) -> None:
    case.call_and_validate(headers=HEADERS)
