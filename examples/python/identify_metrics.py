"""GET /metrics for the FastAPI app: identity's numbers (``stats()`` and ``feed_stats()``) in the
Prometheus text format, written by the official ``prometheus_client`` and named as the Rust
service names them (README, "Metrics"). No label carries an email, a phone number or a tenant."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from identity_reconciliation import AsyncIdentity, FeedStats, IdentityError, Stats


def counters(name: str, documentation: str, label: str, counts: Mapping[str, Any]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=[label])
    for value, n in counts.items():
        family.add_metric([value], n)
    return family


class Snapshot(Collector):
    """One scrape's numbers, as a collector of its own registry."""

    def __init__(self, stats: Stats, feed: FeedStats | None) -> None:
        self.stats = stats
        self.feed = feed

    def collect(self) -> Iterator[Metric]:
        s = self.stats
        yield counters("identity_identify", "Identifies answered, by outcome", "outcome", s["identify"])
        yield counters("identity_identify_errors", "Identifies refused or failed, by error code", "kind", s["identifyErrors"])
        yield counters("identity_store_retries", "Attempts made again, by operation", "operation", s["retries"])
        yield counters("identity_store_contention", "Calls refused for contention, by operation", "operation", s["contention"])
        deliveries = s["webhookDeliveries"]
        yield counters("identity_webhook_deliveries", "Webhook deliveries attempted, by outcome", "outcome", deliveries)
        pool = GaugeMetricFamily("identity_pool_connections", "Database connections now, by state", labels=["state"])
        pool.add_metric(["in_use"], s["pool"]["inUse"])
        pool.add_metric(["idle"], s["pool"]["idle"])
        yield pool
        yield GaugeMetricFamily("identity_pool_max_connections", "The most connections the pool opens", s["pool"]["max"])
        if s["pool"]["waiting"] is not None:
            yield GaugeMetricFamily("identity_pool_waiting", "Calls waiting for a connection", s["pool"]["waiting"])
        up = GaugeMetricFamily("identity_database_up", "Whether the database's numbers could be read", int(self.feed is not None))
        yield up
        if self.feed is None:
            return
        yield CounterMetricFamily(
            "identity_feed_events_written", "Events written to the change feed", self.feed["eventsWritten"]
        )
        age = GaugeMetricFamily(
            "identity_webhook_oldest_undelivered_age_seconds",
            "Age of the oldest event a webhook endpoint has not been sent yet",
            labels=["webhook_id"],
        )
        behind = GaugeMetricFamily(
            "identity_webhook_undelivered_events", "Events after the endpoint's cursor", labels=["webhook_id"]
        )
        now = datetime.now(timezone.utc)
        for hook in self.feed["webhooks"]:
            oldest = hook["oldestUndeliveredAt"]
            seconds = 0.0 if oldest is None else max(0.0, (now - datetime.fromisoformat(oldest)).total_seconds())
            age.add_metric([str(hook["id"])], seconds)
            behind.add_metric([str(hook["id"])], hook["undelivered"])
        yield age
        yield behind


async def exposition(identity: AsyncIdentity) -> tuple[bytes, str]:
    """The text and its content type; the database's part left out when it cannot be read."""
    feed: Any
    try:
        feed = await identity.feed_stats()
    except IdentityError:
        feed = None
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Snapshot(identity.stats(), feed))
    return generate_latest(registry), CONTENT_TYPE_LATEST
