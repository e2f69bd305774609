"""A realistic synthetic workload: the calls `llmops up` sends, and the benchmarks and tests reuse."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["DEMO_APPS", "demo_calls"]

DEMO_APPS = ("support-bot", "search-assistant", "code-review")
_MODELS = (("gpt-4o-mini", "openai"), ("claude-3-5-haiku", "anthropic"), ("llama-3.1-8b", "triton"))
_QUESTIONS = (
    "How do I reset my password?",
    "Summarise the attached incident report in three bullet points.",
    "Which plan includes single sign-on?",
    "Explain the difference between a mutex and a semaphore.",
    "Review this function for off-by-one errors.",
)


def demo_calls(
    count: int, *, seed: int = 7, spread_minutes: int = 30, prefix: str = "demo"
) -> Iterator[dict[str, Any]]:
    """``count`` call records spread over the last ``spread_minutes``, with ~3% errors and client ids."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    for i in range(count):
        model, provider = rng.choice(_MODELS)
        question = rng.choice(_QUESTIONS)
        failed = rng.random() < 0.03
        prompt_tokens = rng.randint(20, 400)
        completion_tokens = 0 if failed else rng.randint(10, 600)
        record: dict[str, Any] = {
            "call_id": f"{prefix}-{seed}-{i:07d}",
            "app": rng.choice(DEMO_APPS),
            "environment": "production",
            "user_id": f"user-{rng.randint(1, 200)}",
            "session_id": f"session-{rng.randint(1, 1000)}",
            "model": model,
            "provider": provider,
            "messages": [
                {"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": question},
            ],
            "parameters": {"temperature": round(rng.uniform(0, 1), 2), "max_tokens": 512},
            "started_at": (now - timedelta(seconds=rng.uniform(0, spread_minutes * 60))).isoformat(),
            "latency_ms": round(rng.lognormvariate(6.2, 0.5), 1),
            "time_to_first_token_ms": round(rng.lognormvariate(5.0, 0.4), 1),
            "tags": ["demo"],
            "metadata": {"region": rng.choice(("eu-west-1", "us-east-1"))},
        }
        if failed:
            record |= {"status": "error", "error": {"type": "rate_limit", "message": "upstream 429"}}
        else:
            record |= {
                "output": f"Here is an answer to: {question}",
                "finish_reason": "stop",
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            }
        yield record
