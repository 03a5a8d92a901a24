"""Prometheus metrics of the collaboration engine (one registry per node)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily

_FAST = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


class RoomMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.rooms = Gauge("collab_rooms", "Rooms loaded on this node", registry=r)
        self.connections = Gauge("collab_connections", "Open WebSocket connections", registry=r)
        # Bumped once per message in or out: plain integers, read at scrape time.
        self.messages_in = Tally("collab_messages_in", "Messages received from peers", registry=r)
        self.messages_out = Tally("collab_messages_out", "Messages queued to peers", registry=r)
        self.bytes_in = Tally("collab_bytes_in", "Bytes received from peers", registry=r)
        self.bytes_out = Tally("collab_bytes_out", "Bytes sent to peers", registry=r)
        self.fanout_latency = Histogram(
            "collab_fanout_latency_seconds",
            "From acceptance on the origin node to delivery on this node",
            buckets=_FAST,
            registry=r,
        )
        self.throttled_seconds = Counter(
            "collab_read_throttled_seconds",
            "Time connections waited to be read from, past their byte budget",
            registry=r,
        )
        self.persist_latency = Histogram(
            "collab_persistence_lag_seconds",
            "From receipt of an update to its durable commit (group commit)",
            buckets=_FAST,
            registry=r,
        )
        self.commit_batch = Histogram(
            "collab_commit_batch_size",
            "Updates per group commit",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
            registry=r,
        )
        self.readonly_dropped = Counter(
            "collab_readonly_updates_dropped_total", "Updates sent by read-only peers", registry=r
        )
        self.readonly_taken_back = Counter(
            "collab_readonly_edits_taken_back_total",
            "Deletions sent to read-only peers of what they typed (see the AsyncAPI contract)",
            registry=r,
        )
        self.awareness_dropped = Counter(
            "collab_awareness_dropped_total",
            "Awareness states of new client ids dropped because their room held its most",
            registry=r,
        )
        self.evictions = Counter(
            "collab_evictions_total",
            "Connections closed by the server, by close code",
            ["reason"],
            registry=r,
        )
        self.compactions = Counter("collab_compactions_total", "Room compactions", registry=r)
        self.bus_dropped = Counter(
            "collab_bus_dropped_total",
            "Messages for other nodes dropped because the bus queue was full",
            registry=r,
        )

    def evicted(self, code: int) -> None:
        """Count a connection the server closed with ``code``: once per connection, by the
        code (the server's close codes are a small fixed set)."""
        self.evictions.labels(str(int(code))).inc()


class Tally:
    """A counter for the hottest paths: ``inc`` adds to a plain integer (no lock: one event
    loop per process), and scrapes read it as a Prometheus counter."""

    def __init__(self, name: str, documentation: str, *, registry: CollectorRegistry) -> None:
        self.value = 0
        self._name = name
        self._documentation = documentation
        registry.register(self)

    def inc(self, amount: int = 1) -> None:
        self.value += amount

    def collect(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily(self._name, self._documentation, value=self.value)
