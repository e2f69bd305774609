"""Tiny checkpoints in the served formats, built in milliseconds for unit tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from llmops_model_server.models.gpt import GPTConfig
from llmops_model_server.training.corpus import corpus_paragraphs
from llmops_model_server.training.tokenizer_training import EOS_TOKEN, train_bpe
from safetensors.numpy import save_file
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

TINY_GPT = GPTConfig(vocab_size=300, n_positions=48, n_embd=32, n_layer=2, n_head=4, bos_token_id=0, eos_token_id=0)


def tiny_bpe(vocab_size: int = 300) -> Tokenizer:
    """A byte-level BPE trained on a few corpus paragraphs; id 0 is <|endoftext|>."""
    tokenizer = train_bpe(corpus_paragraphs()[:40], vocab_size)
    assert tokenizer.token_to_id(EOS_TOKEN) == 0
    return tokenizer


def random_gpt_tensors(config: GPTConfig, seed: int = 0, *, hf_layout: bool = False) -> dict[str, np.ndarray]:
    """Random weights under GPT-2 names; ``hf_layout`` mimics GPT2LMHeadModel files (prefix + attn buffers)."""
    rng = np.random.default_rng(seed)
    c, inner = config.n_embd, 4 * config.n_embd
    shapes = {"wte.weight": (config.vocab_size, c), "wpe.weight": (config.n_positions, c), "ln_f.weight": (c,)}
    shapes["ln_f.bias"] = (c,)
    for i in range(config.n_layer):
        p = f"h.{i}."
        shapes |= {p + "ln_1.weight": (c,), p + "ln_1.bias": (c,), p + "ln_2.weight": (c,), p + "ln_2.bias": (c,)}
        shapes |= {p + "attn.c_attn.weight": (c, 3 * c), p + "attn.c_attn.bias": (3 * c,)}
        shapes |= {p + "attn.c_proj.weight": (c, c), p + "attn.c_proj.bias": (c,)}
        shapes |= {p + "mlp.c_fc.weight": (c, inner), p + "mlp.c_fc.bias": (inner,)}
        shapes |= {p + "mlp.c_proj.weight": (inner, c), p + "mlp.c_proj.bias": (c,)}
    tensors = {name: (rng.standard_normal(shape) * 0.2).astype(np.float32) for name, shape in shapes.items()}
    for name in tensors:
        if name.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight")):
            tensors[name] = (1.0 + tensors[name]).astype(np.float32)
    if hf_layout:
        n = config.n_positions
        tensors = {f"transformer.{k}": v for k, v in tensors.items()}
        for i in range(config.n_layer):  # the causal-mask buffers real GPT-2 checkpoints carry
            tensors[f"transformer.h.{i}.attn.bias"] = np.tril(np.ones((n, n), np.float32))[None, None]
    return tensors


def write_gpt_dir(
    path: Path, config: GPTConfig = TINY_GPT, seed: int = 0, *, hf_layout: bool = False, dtype: type = np.float32
) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps(config.to_dict()))
    tensors = {k: v.astype(dtype) for k, v in random_gpt_tensors(config, seed, hf_layout=hf_layout).items()}
    save_file(tensors, str(path / "model.safetensors"))
    tiny_bpe(config.vocab_size).save(str(path / "tokenizer.json"))
    return path


BERT_CONFIG = {
    "model_type": "bert",
    "hidden_act": "gelu",
    "vocab_size": 40,
    "hidden_size": 16,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 32,
    "max_position_embeddings": 32,
    "type_vocab_size": 2,
    "layer_norm_eps": 1e-12,
}


def _wordpiece(words: list[str]) -> Tokenizer:
    vocab = {tok: i for i, tok in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *words])}
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    return tokenizer


def write_bert_dir(path: Path, seed: int = 0, *, prefix: str = "") -> Path:
    """A random 2-layer BERT with a 40-token WordPiece vocabulary, in sentence-transformers layout."""
    rng = np.random.default_rng(seed)
    h, f, v = 16, 32, 40
    shapes = {
        "embeddings.word_embeddings.weight": (v, h),
        "embeddings.position_embeddings.weight": (32, h),
        "embeddings.token_type_embeddings.weight": (2, h),
        "embeddings.LayerNorm.weight": (h,),
        "embeddings.LayerNorm.bias": (h,),
    }
    for i in range(2):
        p = f"encoder.layer.{i}."
        for name in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            shapes |= {p + name + ".weight": (h, h), p + name + ".bias": (h,)}
        shapes |= {p + "intermediate.dense.weight": (f, h), p + "intermediate.dense.bias": (f,)}
        shapes |= {p + "output.dense.weight": (h, f), p + "output.dense.bias": (h,)}
        for ln in ("attention.output.LayerNorm", "output.LayerNorm"):
            shapes |= {p + ln + ".weight": (h,), p + ln + ".bias": (h,)}
    tensors = {prefix + k: (rng.standard_normal(s) * 0.3).astype(np.float32) for k, s in shapes.items()}
    path.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path / "model.safetensors"))
    (path / "config.json").write_text(json.dumps(BERT_CONFIG))
    words = [
        "the",
        "light",
        "of",
        "sun",
        "red",
        "blue",
        "prism",
        "colour",
        "ray",
        "rays",
        "glass",
        "water",
        "is",
        "a",
        "and",
        "in",
        "to",
    ]
    _wordpiece(words + [f"w{i}" for i in range(v - 4 - len(words))]).save(str(path / "tokenizer.json"))
    return path
