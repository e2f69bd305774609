"""The alerting service: objectives with error budgets, alert rules over metrics and events, notifiers."""

__version__ = "0.1.0"
