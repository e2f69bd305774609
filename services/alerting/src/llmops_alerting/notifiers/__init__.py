"""Notifier payloads (PagerDuty Events API v2, Slack, signed webhooks), the guarded transport and the outbox."""
