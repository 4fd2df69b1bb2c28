"""The shapes of ``Identity.stats()`` and ``Identity.feed_stats()``: plain dicts, typed."""

from __future__ import annotations

from typing import Literal, TypedDict


class IdentifyCounts(TypedDict):
    """Identifies by outcome."""

    created: int
    linked: int
    merged: int
    known: int
    refused: int
    failed: int


class DeliveryCounts(TypedDict):
    """Webhook deliveries this process attempted."""

    succeeded: int
    failed: int


class PoolStats(TypedDict):
    """The connection pool now; ``waiting`` is ``None`` on SQLite."""

    max: int
    inUse: int
    idle: int
    waiting: int | None


class Stats(TypedDict):
    """What a handle's calls did since it was opened (``Identity.stats()``)."""

    identify: IdentifyCounts
    identifyErrors: dict[str, int]
    retries: dict[str, int]
    contention: dict[str, int]
    webhookDeliveries: DeliveryCounts
    pool: PoolStats


class WebhookBacklog(TypedDict):
    """How far one webhook endpoint is behind its tenant's feed."""

    id: int
    tenant: str
    state: Literal["active", "failing"]
    undelivered: int
    oldestUndeliveredAt: str | None


class FeedStats(TypedDict):
    """The feed's size and every webhook endpoint's backlog (``Identity.feed_stats()``)."""

    eventsWritten: int
    webhooks: list[WebhookBacklog]
