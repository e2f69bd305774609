"""The Triton model server: PyTriton serving the platform's `llm` and `embedder` models."""
