"""NumPy inference for the served models: GPT-2-format decoder, BERT-format sentence embedder, sampling."""
