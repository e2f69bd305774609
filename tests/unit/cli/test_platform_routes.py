"""The routes file `llmops up` writes for the gateway: the model server's `llm` and `embedder` both routed."""

from __future__ import annotations

from pathlib import Path

from llmops_cli.platform import EMBEDDING_MODEL, GATEWAY_MODEL, write_routes
from llmops_inference.routing_table import RoutingTable


def test_the_gateway_routes_both_models_of_the_model_server(tmp_path: Path) -> None:
    routes = RoutingTable.load(write_routes(tmp_path / "routes.yaml", grpc_port=18101))

    targets = {name: [(t.backend, t.upstream, t.model) for t in routes.models[name]] for name in routes.models}
    assert targets == {
        GATEWAY_MODEL: [("triton", "triton", "llm")],
        EMBEDDING_MODEL: [("triton", "triton", "embedder")],
    }
    assert [u.base_url for u in routes.upstreams] == ["grpc://127.0.0.1:18101"]
