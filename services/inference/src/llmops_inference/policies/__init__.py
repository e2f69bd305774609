"""The tenants' gateway policies (docs/governance.md#policies, docs/adr/0045): model allow-lists, blocked terms and
data classifications, materialised from ``llmops.policies`` and checked before a call is made."""
