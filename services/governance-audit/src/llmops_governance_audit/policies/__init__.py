"""The tenants' governance policies (``llmops.policies``): the ``/v1/policies`` API and its registry."""
