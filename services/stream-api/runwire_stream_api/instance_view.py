"""One view of a stream-API instance, whichever of its workers answers: `/metrics`, `/v1/stats` and
`/readyz` merge this worker's figures with those its siblings send over the worker link.

Merge rules (docs/operations.md, "Workers"): additive figures are summed; what every worker sees
identically because each reads the same live tail (events in, invalid events) takes the max; NATS
connected takes the min; latency percentiles come from the merged per-second buckets; the position
is the max. Without a link (one worker) the view is this process's own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, Final

import msgspec
from litestar import Litestar
from litestar.datastructures import State
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from runwire.contract.cursor import format_cursor
from runwire.web.health import not_ready, readiness
from runwire.web.problems import ProblemError
from runwire_stream_api.event_trace import trace_of
from runwire_stream_api.latency import LatencyWindow
from runwire_stream_api.runtime import Runtime
from runwire_stream_api.worker_link import Answer, WorkerLink

# Every worker reads the same live tail, so each counts the same events: summing would multiply them.
SAME_IN_EVERY_WORKER: Final = frozenset(
    {"runwire_stream_events_in", "runwire_stream_invalid_events", "events_in"}
)
# Up only when every worker's connection is.
LOWEST_OF_WORKERS: Final = frozenset({"runwire_nats_connected"})


class Family(msgspec.Struct, array_like=True):
    """A Prometheus metric family as a worker sends it: (sample name, labels, value) per sample."""

    name: str
    documentation: str
    type: str
    samples: list[tuple[str, dict[str, str], float]]


class WorkerStats(msgspec.Struct, array_like=True):
    """One worker's `/v1/stats` figures, with what merging needs unformatted."""

    figures: dict[str, Any]
    position: int
    latency: list[tuple[int, list[int], float]]
    window_seconds: int


class Readiness(msgspec.Struct):
    """One worker's readiness: its `/readyz` body, or why it is not ready."""

    ready: bool
    detail: str = ""
    body: dict[str, Any] = {}


def link_of(state: State) -> WorkerLink | None:
    link: WorkerLink | None = state.get("worker_link")
    return link


def answerer(app: Litestar) -> Answer:
    """What this worker answers its siblings' questions with."""

    async def answer(question: str) -> object:
        state = app.state
        if question == "metrics":
            return own_families(state.runtime)
        if question == "stats":
            return own_stats(state.runtime)
        if question == "ready":
            return await own_readiness(state)
        kind, _, rest = question.partition(" ")
        seq, _, project = rest.partition(" ")
        if kind == "trace" and seq.isdigit():
            return trace_of(state.runtime, project, int(seq))
        return None

    return answer


# ---- /metrics


def own_families(runtime: Runtime) -> list[Family]:
    return [
        Family(
            family.name,
            family.documentation,
            family.type,
            [(s.name, s.labels, s.value) for s in family.samples],
        )
        for family in runtime.metrics.collect()
    ]


async def instance_metrics(state: State) -> bytes:
    """The Prometheus exposition of the whole instance, with how many workers' figures it holds."""
    runtime: Runtime = state.runtime
    views = [own_families(runtime)]
    link = link_of(state)
    if link is not None:
        views += [view for view in (_convert(a, list[Family]) for a in await link.ask("metrics")) if view]
    merged = merge_families(views)
    expected = link.count if link is not None else 1
    merged.append(_gauge("runwire_stream_workers_expected", "Worker processes this instance runs", expected))
    merged.append(
        _gauge(
            "runwire_stream_workers_answering",
            "Workers whose figures this scrape includes (a worker that did not answer in time is left out)",
            len(views),
        )
    )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(merged))
    return generate_latest(registry)


def merge_families(views: list[list[Family]]) -> list[Metric]:
    """Each family's samples combined across workers (sum, or max/min where summing would be wrong)."""
    merged: dict[str, tuple[Family, dict[tuple[str, tuple[tuple[str, str], ...]], float]]] = {}
    for view in views:
        for family in view:
            _, samples = merged.setdefault(family.name, (family, {}))
            combine = _combiner(family.name)
            for name, labels, value in family.samples:
                key = (name, tuple(labels.items()))
                samples[key] = value if key not in samples else combine(samples[key], value)
    out: list[Metric] = []
    for family, samples in merged.values():
        metric = Metric(family.name, family.documentation, family.type)
        for (sample, label_pairs), value in samples.items():
            metric.add_sample(sample, dict(label_pairs), value)
        out.append(metric)
    return out


def _combiner(name: str) -> Callable[[float, float], float]:
    if name in SAME_IN_EVERY_WORKER:
        return max
    if name in LOWEST_OF_WORKERS:
        return min
    return _sum


def _sum(a: float, b: float) -> float:
    return a + b


def _gauge(name: str, documentation: str, value: float) -> Metric:
    metric = Metric(name, documentation, "gauge")
    metric.add_sample(name, {}, value)
    return metric


class _Families(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        yield from self._families


# ---- /v1/stats


def own_stats(runtime: Runtime) -> WorkerStats:
    window = runtime.latency.window
    return WorkerStats(runtime.stats(), runtime.hub.position, window.slots(), window.seconds)


async def instance_stats(state: State) -> dict[str, object]:
    """`/v1/stats` of the whole instance: every worker's figures merged."""
    runtime: Runtime = state.runtime
    views = [own_stats(runtime)]
    link = link_of(state)
    if link is not None:
        views += [view for view in (_convert(a, WorkerStats) for a in await link.ask("stats")) if view]
    return merge_stats(views, link.count if link is not None else 1)


def merge_stats(views: list[WorkerStats], expected: int, now_second: int | None = None) -> dict[str, object]:
    own = views[0]
    merged: dict[str, object] = {}
    for key, value in own.figures.items():
        merged[key] = _merge_figure(key, [view.figures.get(key) for view in views], value)
    merged["position"] = format_cursor(max(view.position for view in views))
    window = LatencyWindow(own.window_seconds)
    now = int(time.time()) if now_second is None else now_second
    for view in views:
        window.absorb(view.latency, now)
    merged["latency"] = window.summary(now)
    merged["workers"] = {"expected": expected, "answering": len(views)}
    return merged


def _merge_figure(key: str, values: list[Any], own: Any) -> Any:
    """Numbers summed (max for what every worker sees alike), dicts of numbers merged by key."""
    if isinstance(own, dict):
        keys = dict.fromkeys(k for value in values if isinstance(value, dict) for k in value)
        return {
            k: _merge_figure(key, [value.get(k) for value in values if isinstance(value, dict)], own.get(k))
            for k in keys
        }
    if isinstance(own, bool) or not isinstance(own, int | float):
        return own
    numbers = [value for value in values if isinstance(value, int | float) and not isinstance(value, bool)]
    return max(numbers) if key in SAME_IN_EVERY_WORKER else sum(numbers)


# ---- /readyz


async def own_readiness(state: State) -> Readiness:
    try:
        return Readiness(ready=True, body=await readiness(state))
    except ProblemError as exc:
        return Readiness(ready=False, detail=str(exc.detail))


async def instance_readiness(state: State) -> dict[str, object]:
    """Ready when every worker is; otherwise `not_ready` naming how many are not (or do not answer)."""
    link = link_of(state)
    if link is None:
        return await readiness(state)
    own = await own_readiness(state)
    answers = [own, *(_convert(a, Readiness) for a in await link.ask("ready"))]
    silent = sum(answer is None for answer in answers)
    unready = [answer for answer in answers if answer is not None and not answer.ready]
    if silent or unready:
        parts = [f"{len(unready)} not ready ({unready[0].detail})"] if unready else []
        parts += [f"{silent} not answering"] if silent else []
        raise not_ready(f"{silent + len(unready)} of {link.count} workers are not ready: {', '.join(parts)}")
    return {**own.body, "workers": link.count}


def _convert(answer: Any, kind: Any) -> Any:
    """A sibling's answer as `kind`, or None when it gave none (or one this worker cannot read)."""
    if answer is None:
        return None
    try:
        return msgspec.convert(answer, kind)
    except msgspec.ValidationError:
        return None
