"""Retention per table and per tenant (docs/adr/0049-retention-per-tenant.md).

:mod:`.mapping` says which tables a policy's ``dataset`` covers and their default retention; :mod:`.policies`
materialises the tenants' ``retention`` policies from ``llmops.policies``; :mod:`.expiry` stamps each inserted
row's ``expires_at`` (the column every table's TTL deletes on, migration 0023); :mod:`.restamp` moves the expiry
of rows already stored when a tenant's retention changes, a bounded number of mutations per run.
"""
