"""The audit chain's one writer (docs/adr/0034, docs/governance.md "Tamper-evident audit trail").

* :mod:`.heads`: each tenant's chain head, materialised from ``llmops.audit.heads`` (where the writer resumes);
* :mod:`.linker`: pure: audit entries in, chained entries and new heads out;
* :mod:`.writer`: the consumer of ``llmops.audit.records`` and the periodic signed digests;
* :mod:`.wiring`: the components :mod:`llmops_governance_audit.bootstrap` starts.
"""
