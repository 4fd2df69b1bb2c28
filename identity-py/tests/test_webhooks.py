"""Webhooks through the binding: a local receiver (http.server in a thread) gets every event
after the endpoint's creation, in order, each signature checked with ``verify_webhook``; the
endpoint's state and attempts; a failing receiver, then the backlog after a replay; the async
API; and the errors, each with its field."""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from identity_reconciliation import (
    AsyncIdentity,
    Identity,
    InvalidInputError,
    NotFoundError,
    sign_webhook,
    verify_webhook,
)


class Receiver:
    """An HTTP server on a free loopback port that records each delivery it takes."""

    def __init__(self, status: Callable[[], int] = lambda: 204) -> None:
        self.got: list[dict[str, Any]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["content-length"]))
                code = status()
                if code < 300:
                    receiver.got.append({
                        "id": self.headers["webhook-id"],
                        "timestamp": int(self.headers["webhook-timestamp"]),
                        "signature": self.headers["webhook-signature"],
                        "body": body,
                    })
                self.send_response(code)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def until(what: str, condition: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.02)


def test_a_local_receiver_gets_every_event_in_order_signed(store_url: str, receiver: Receiver) -> None:
    with Identity(store_url, allow_private_webhooks=True) as ident:
        ident.identify(email="before@x.io")  # before the endpoint: not sent
        hook = ident.create_webhook(receiver.url)
        assert hook.secret is not None and hook.secret.startswith("whsec_")
        assert (hook.state, hook.attempts, hook.types, hook.last_error) == ("active", 0, None, None)
        with ident.deliver_webhooks(timeout=2.0) as sender:
            assert sender.running
            ident.identify(email="doc@x.io", phone_number="555")
            ident.identify(email="marty@x.io", phone_number="777")
            ident.identify(email="doc@x.io", phone_number="777")
            expected = ident.events(after=hook.cursor).events
            until("three deliveries", lambda: len(receiver.got) >= 3)
        assert not sender.running
        assert [e.type for e in expected] == ["contact.created", "contact.created", "customer.merged"]
        assert [g["id"] for g in receiver.got] == [e.id for e in expected]
        for got, event in zip(receiver.got, expected):
            assert verify_webhook(hook.secret, got["id"], got["timestamp"], got["body"], got["signature"])
            assert not verify_webhook(hook.secret, got["id"], got["timestamp"] + 1, got["body"], got["signature"])
            assert json.loads(got["body"]) == event.to_dict()
        (listed,) = ident.webhooks()
        assert listed.secret is None and listed.cursor == expected[-1].cursor
        assert listed.to_dict()["cursor"] == expected[-1].cursor and "secret" not in listed.to_dict()
        attempts = ident.webhook_deliveries(hook.id, limit=2)
        assert [(a.event_id, a.attempt, a.status, a.error, a.succeeded) for a in attempts] == [
            (expected[2].id, 1, 204, None, True),
            (expected[1].id, 1, 204, None, True),
        ]
        ident.delete_webhook(hook.id)
        assert ident.webhooks() == []


def test_a_failing_receiver_is_retried_and_a_replay_sends_the_backlog() -> None:
    up = False
    receiver = Receiver(lambda: 204 if up else 503)
    try:
        with Identity("memory:", allow_private_webhooks=True) as ident:
            hook = ident.create_webhook(receiver.url, ["contact.created"])
            assert hook.types == ["contact.created"]
            with ident.deliver_webhooks(timeout=1.0):
                ident.identify(email="a@x.io", phone_number="1")
                until("a failed attempt", lambda: len(ident.webhook_deliveries(hook.id)) > 0)
                (failed,) = ident.webhook_deliveries(hook.id)
                assert (failed.status, failed.error, failed.succeeded) == (503, "answered 503", False)
                assert failed.next_attempt_at is not None
                (listed,) = ident.webhooks()
                assert (listed.attempts, listed.last_error) == (1, "answered 503")
                up = True
                ident.identify(email="a@x.io", phone_number="2")  # a link: not a type it takes
                ident.identify(email="b@x.io")
                # resume now rather than after the 5 s retry: a replay from its own cursor
                resumed = ident.replay_webhook(hook.id, after=listed.cursor)
                assert (resumed.state, resumed.attempts) == ("active", 0)
                until("the backlog", lambda: len(receiver.got) >= 2)
            created = [e.id for e in ident.events().events if e.type == "contact.created"]
            assert [g["id"] for g in receiver.got] == created
    finally:
        receiver.close()


def test_the_async_api_registers_delivers_and_replays(receiver: Receiver) -> None:
    async def main() -> None:
        ident = await AsyncIdentity.connect("memory:", allow_private_webhooks=True)
        hook = await ident.create_webhook(receiver.url)
        sender = ident.deliver_webhooks()
        await ident.identify(email="doc@x.io")
        for _ in range(1000):
            if receiver.got:
                break
            await asyncio.sleep(0.02)
        (listed,) = await ident.webhooks()
        replayed = await ident.replay_webhook(hook.id)
        assert replayed.cursor == "f1.0"
        deliveries = await ident.webhook_deliveries(hook.id)
        await asyncio.to_thread(sender.stop)
        await ident.delete_webhook(hook.id)
        assert await ident.webhooks() == []
        assert listed.id == hook.id and deliveries and deliveries[0].succeeded
        ident.close()

    asyncio.run(main())
    assert [g["id"] for g in receiver.got][:1] == ["evt_1"]


def test_bad_arguments_are_refused_with_their_field_and_nothing_is_registered() -> None:
    with Identity("memory:") as ident:
        for url, types, field in [
            ("http://127.0.0.1:9/", None, "url"),
            ("ftp://example.com/", None, "url"),
            ("https://example.com/", [], "types"),
            ("https://example.com/", ["contact.deleted"], "types"),
        ]:
            with pytest.raises(InvalidInputError) as e:
                ident.create_webhook(url, types)
            assert e.value.field == field, (url, types)
        assert ident.webhooks() == []
        hook = ident.create_webhook("https://example.com/h")
        with pytest.raises(NotFoundError, match=f"webhook {hook.id + 1} not found"):
            ident.delete_webhook(hook.id + 1)
        with pytest.raises(InvalidInputError) as e:
            ident.delete_webhook(0)
        assert e.value.field == "webhook_id"
        with pytest.raises(InvalidInputError) as e:
            ident.webhook_deliveries(hook.id, limit=0)
        assert e.value.field == "limit"
        with pytest.raises(InvalidInputError) as e:
            ident.replay_webhook(hook.id, after="f1.ffff")
        assert e.value.field == "after"
        with pytest.raises(NotFoundError):
            ident.tenant("shop-b").replay_webhook(hook.id)
        with pytest.raises(InvalidInputError) as e:
            ident.deliver_webhooks(timeout=0)
        assert e.value.field == "timeout"
        with pytest.raises(InvalidInputError) as e:
            verify_webhook("nope", "evt_1", 1, b"{}", "v1,x")
        assert e.value.field == "secret"


def test_signatures_are_the_standard_webhooks_ones() -> None:
    # the example of the Standard Webhooks specification
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    signature = sign_webhook(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert verify_webhook(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, signature)
