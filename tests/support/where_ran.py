"""A Dask scheduler plugin that records which worker finished each task: how the tests see
where a parcel's or a shard's tasks ran."""

from __future__ import annotations

from distributed.diagnostics.plugin import SchedulerPlugin


class WhereRan(SchedulerPlugin):
    name = "logcache-test-where-ran"

    def __init__(self) -> None:
        self.worker_of: dict[str, str] = {}

    def transition(self, key: object, start: str, finish: str, *args: object, **kwargs: object) -> None:
        if finish == "memory" and "worker" in kwargs:
            self.worker_of[str(key)] = str(kwargs["worker"])
