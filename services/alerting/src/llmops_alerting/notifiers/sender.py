"""One call to one notifier: the body of its kind, the outcome as retryable or not.

2xx is accepted. 429, 408, 5xx, a timeout or a connection error are retryable (with the receiver's
``Retry-After`` where it gives one); other 4xx and a blocked address (SSRF guard) are not: the same request
would be refused again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx
from llmops_schemas.v1 import NotifierConfigured
from llmops_schemas.v2 import NotificationQueued

from llmops_alerting.notifiers.guard import BlockedAddress
from llmops_alerting.notifiers.payloads import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    pagerduty_body,
    sign,
    slack_body,
    slack_group_body,
    webhook_body,
)
from llmops_alerting.ports import Secrets

__all__ = ["DeliveryFailed", "Sender"]


class DeliveryFailed(Exception):
    """A notifier call that did not succeed; ``retryable`` says whether trying again may help."""

    def __init__(self, detail: str, *, retryable: bool, retry_after_s: float | None = None) -> None:
        super().__init__(detail)
        self.retryable = retryable
        self.retry_after_s = retry_after_s


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    return float(value) if value.isdigit() else None


class Sender:
    """Builds the request of a notifier's kind and sends it through the guarded client."""

    def __init__(self, client: httpx.AsyncClient, secrets: Secrets, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._secrets = secrets
        self._clock = clock

    def _request(self, tenant: str, notifier: NotifierConfigured, item: NotificationQueued) -> httpx.Request:
        secret = self._secrets.get(notifier.secret_ref)
        if notifier.kind != "slack" and secret is None:
            raise DeliveryFailed(f"secret {notifier.secret_ref!r} is not configured", retryable=True)
        headers = {"Content-Type": "application/json", "User-Agent": "llmops-alerting"}
        if notifier.kind == "pagerduty":
            body = json.dumps(pagerduty_body(tenant, item.alert, secret or "")).encode()
        elif notifier.kind == "slack":
            return self._slack_request(notifier, json.dumps(slack_body(tenant, item.alert)).encode())
        else:
            body = webhook_body(tenant, item.alert, item.notification_id)
            stamp = int(self._clock())
            headers |= {TIMESTAMP_HEADER: str(stamp), SIGNATURE_HEADER: sign((secret or "").encode(), stamp, body)}
        return self._client.build_request("POST", notifier.url, content=body, headers=headers)

    async def send(self, tenant: str, notifier: NotifierConfigured, item: NotificationQueued) -> None:
        """Deliver ``item`` once; :class:`DeliveryFailed` when the notifier did not accept it."""
        await self._send(self._request(tenant, notifier, item))

    async def send_group(self, tenant: str, notifier: NotifierConfigured, items: list[NotificationQueued]) -> None:
        """Deliver a group's batch to a Slack notifier as one message (oldest change first)."""
        if notifier.kind != "slack":
            raise ValueError(f"only Slack notifiers take a group's batch in one message, not {notifier.kind}")
        body = json.dumps(slack_group_body(tenant, [i.alert for i in items])).encode()
        await self._send(self._slack_request(notifier, body))

    def _slack_request(self, notifier: NotifierConfigured, body: bytes) -> httpx.Request:
        # A Slack webhook's path is its credential: kept in the secrets file, appended to the stored host.
        secret = self._secrets.get(notifier.secret_ref)
        url = notifier.url.rstrip("/") + secret if secret else notifier.url
        headers = {"Content-Type": "application/json", "User-Agent": "llmops-alerting"}
        return self._client.build_request("POST", url, content=body, headers=headers)

    async def _send(self, request: httpx.Request) -> None:
        try:
            response = await self._client.send(request)
        except BlockedAddress as exc:
            raise DeliveryFailed(str(exc), retryable=False) from None
        except httpx.ConnectError as exc:
            if isinstance(exc.__cause__, BlockedAddress) or isinstance(exc.__context__, BlockedAddress):
                raise DeliveryFailed(str(exc), retryable=False) from None
            raise DeliveryFailed(f"cannot connect: {type(exc).__name__}", retryable=True) from None
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{type(exc).__name__}", retryable=True) from None
        if response.is_success:
            return
        status = response.status_code
        retryable = status in (408, 429) or status >= 500
        raise DeliveryFailed(f"answered {status}", retryable=retryable, retry_after_s=_retry_after(response))
