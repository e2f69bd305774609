"""Building the served checkpoints: the corpus, the BPE tokenizer and the JAX training loop of `llm`.

Imported by ``scripts/build_models.py`` (and the server when ``MODEL_SERVER_BUILD_IF_MISSING`` is on),
never on the inference path: serving needs NumPy only.
"""
