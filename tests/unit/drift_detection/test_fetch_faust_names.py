"""The private faust names the batch drain and the commit guard rely on: this fails when an upgrade moves one.

faust-streaming is pinned exactly (==0.15.3) because :mod:`llmops_drift_detection.fetch` replaces
``Consumer._drain_messages`` and writes faust's ack bookkeeping, and :mod:`llmops_drift_detection.commits`
wraps ``Consumer._new_offset``. Before raising the pin, read the new version's consumer and update both.
"""

from __future__ import annotations

import inspect
from importlib.metadata import version

import faust
from faust.transport import consumer as base
from faust.transport.drivers import aiokafka as driver
from faust.types import tuples

SIGNATURES = {
    "_drain_messages": ["self", "fetcher"],
    "_wait_next_records": ["self", "timeout"],
    "_add_gap": ["self", "tp", "offset_from", "offset_to"],
    "_new_offset": ["self", "tp"],
    "_to_message": ["self", "tp", "record"],
    "perform_seek": ["self"],
    "seek": ["self", "partition", "offset"],
    "commit": ["self", "topics", "start_new_transaction"],
    "highwater": ["self", "tp"],
}
STATE = ("_acked", "_acked_index", "_read_offset", "_committed_offset", "_unacked_messages", "_waiting_for_ack",
         "_gap", "_buffered_partitions", "_commit_every", "_n_acked", "flow_active", "suspend_flow",
         "scheduler")  # fmt: skip


def test_faust_is_the_pinned_version() -> None:
    assert version("faust-streaming") == "0.15.3"


def test_the_consumer_methods_overridden_or_called_keep_their_signatures() -> None:
    for name, parameters in SIGNATURES.items():
        assert list(inspect.signature(getattr(driver.Consumer, name)).parameters) == parameters, name


def test_the_consumer_state_written_by_the_bulk_ack_is_still_there() -> None:
    init = inspect.getsource(base.Consumer.__init__) + inspect.getsource(base.Consumer)
    for name in STATE:
        assert f"self.{name}" in init or f"{name}:" in init, name
    assert "CONSUMER_FETCHING" in vars(base) and hasattr(tuples, "ack_lock")


def test_the_app_builds_its_consumer_in_one_overridable_method() -> None:
    assert list(inspect.signature(faust.App._new_consumer).parameters) == ["self"]
    assert "self._new_consumer()" in inspect.getsource(faust.App)
    assert "._drain_messages(self)" in inspect.getsource(base.Fetcher)
