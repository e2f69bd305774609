"""How the gateway is reached: the HTTP app and the ``llmops-inference`` command."""
