"""The routes file `llmops up` writes for the gateway: the model server's `llm`, `embedder` and `judge`, and the demo
upstream's tool-calling model."""

from __future__ import annotations

from pathlib import Path

from llmops_cli.demo_upstream import DEMO_UPSTREAM_MODEL
from llmops_cli.platform import EMBEDDING_MODEL, GATEWAY_MODEL, JUDGE_MODEL, TOOLS_MODEL, write_routes
from llmops_inference.routing_table import RoutingTable


def test_the_gateway_routes_the_model_servers_models_and_the_demo_upstream(tmp_path: Path) -> None:
    routes = RoutingTable.load(write_routes(tmp_path / "routes.yaml", grpc_port=18101, demo_upstream_port=18004))

    targets = {name: [(t.backend, t.upstream, t.model) for t in routes.models[name]] for name in routes.models}
    assert targets == {
        GATEWAY_MODEL: [("triton", "triton", "llm")],
        EMBEDDING_MODEL: [("triton", "triton", "embedder")],
        JUDGE_MODEL: [("triton", "triton", "judge")],
        TOOLS_MODEL: [("openai", "demo", DEMO_UPSTREAM_MODEL)],
    }
    assert [u.base_url for u in routes.upstreams] == ["grpc://127.0.0.1:18101", "http://127.0.0.1:18004/v1"]
