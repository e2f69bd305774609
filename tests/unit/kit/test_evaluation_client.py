"""The evaluation contract on the fake evaluation service and on the real evaluation app (in process, over
``httpx.ASGITransport``, with the kit's in-memory publisher and a fake gateway and warehouse), both through the kit's
EvaluationClient acting with a service key."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from llmops_evaluation.bootstrap import EvaluationPorts, create_app
from llmops_evaluation.config import EvaluationSettings
from llmops_evaluation.entrypoints.runs_http import RUNS_KEY
from llmops_evaluation.heuristics import KINDS
from llmops_evaluation.runs.stores import DatasetStore, RunStore
from llmops_evaluation.store import EvaluatorStore
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_kit.platform_client import EvaluationClient, GatewayClient, PlatformClient, WarehouseReader

from tests.unit.evaluation.test_runs_api import Platform, Probe
from tests.unit.kit.evaluation_contract import EvaluationContract, Seed
from tests.unit.kit.fake_evaluation import FakeEvaluation

SERVICE_KEY = "llmops_service_key_for_the_evaluation_contract_0"


class TestFake(EvaluationContract):
    @pytest.fixture
    def fake(self) -> FakeEvaluation:
        return FakeEvaluation()

    @pytest.fixture
    async def evaluation(self, fake: FakeEvaluation) -> AsyncIterator[EvaluationClient]:
        client = EvaluationClient(PlatformClient("evaluation", "http://evaluation", SERVICE_KEY,
                                                 transport=fake.transport()))  # fmt: skip
        await client.start()
        yield client
        await client.stop()

    @pytest.fixture
    def seed(self, fake: FakeEvaluation) -> Seed:
        async def seed(tenant: str, dataset: str, examples: list[str]) -> None:
            fake.seed(tenant, dataset, examples)

        return seed


class TestRealApp(EvaluationContract):
    @pytest.fixture
    def keys(self) -> ApiKeyStore:
        return ApiKeyStore([ApiKeyRecord(id="svc", tenant_id="*", role="service", sha256=hash_key(SERVICE_KEY))])

    @pytest.fixture
    async def app(self, keys: ApiKeyStore, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.ASGITransport]:
        monkeypatch.setitem(KINDS, "probe", Probe)
        publisher = InMemoryPublisher()
        platform = PlatformClient("platform", "http://platform", "svc",
                                  transport=httpx.MockTransport(Platform(publisher)))  # fmt: skip
        stores = EvaluatorStore(), DatasetStore(), RunStore()
        for store in stores:
            store.mark_caught_up()
        ports = EvaluationPorts(publisher, keys, stores[0], datasets=stores[1], runs=stores[2],
                                gateway=GatewayClient(platform), warehouse=WarehouseReader(platform))  # fmt: skip
        app = create_app(EvaluationSettings(run_chunk=2), ports=ports)
        await platform.start()
        yield httpx.ASGITransport(app=app)
        await getattr(app.state, RUNS_KEY).executor.stop()
        await platform.stop()

    @pytest.fixture
    async def evaluation(self, app: httpx.ASGITransport) -> AsyncIterator[EvaluationClient]:
        client = EvaluationClient(PlatformClient("evaluation", "http://evaluation", SERVICE_KEY, transport=app))
        await client.start()
        yield client
        await client.stop()

    @pytest.fixture
    def seed(self, app: httpx.ASGITransport, keys: ApiKeyStore) -> Seed:
        """Uploads the dataset with an admin key of the tenant (a service key may start runs, not upload)."""

        async def seed(tenant: str, dataset: str, examples: list[str]) -> None:
            admin = f"llmops_admin_{tenant}".ljust(40, "0")
            keys.put(ApiKeyRecord(id=f"admin-{tenant}", tenant_id=tenant, role="admin", sha256=hash_key(admin)))
            body = "\n".join(json.dumps({"id": e, "input": e, "expected": f"answer: {e}"}) for e in examples)
            headers = {"Authorization": f"Bearer {admin}", "Content-Type": "application/x-ndjson"}
            async with httpx.AsyncClient(transport=app, base_url="http://evaluation") as http:
                uploaded = await http.post(f"/v1/datasets/{dataset}", content=body, headers=headers)
            assert uploaded.status_code == 201, uploaded.text

        return seed
