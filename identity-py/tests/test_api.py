"""The Python surface: argument types, errors, close, the Contact value type, fork safety,
and stubs that match the runtime."""

from __future__ import annotations

import asyncio
import os
import pathlib
import pickle
import subprocess
import sys

import pytest

import identity_reconciliation as ir
from identity_reconciliation import (
    AsyncIdentity,
    BlockedValueError,
    ClosedError,
    ConflictError,
    Contact,
    ContentionError,
    CorruptDataError,
    Identity,
    IdentityError,
    InternalError,
    InvalidInputError,
    NotFoundError,
    StoreError,
    UnavailableError,
)


@pytest.fixture
def ident() -> Identity:
    return Identity("memory:")


def test_phone_may_be_str_or_int_including_beyond_64_bits(ident: Identity) -> None:
    assert ident.identify(phone_number=123456).phone_numbers == ["123456"]
    assert ident.identify(phone_number="+1 (555) 010-9999").phone_numbers == ["+15550109999"]
    assert ident.identify(phone_number=98765432109876543210).phone_numbers == ["98765432109876543210"]
    assert ident.identify(phone_number="123456").primary_contact_id == 1


@pytest.mark.parametrize(
    ("kwargs", "field", "text"),
    [
        ({}, "request", "an email or a phone number is required"),
        ({"email": None, "phone_number": None}, "request", "required"),
        ({"email": "  ", "phone_number": ""}, "request", "required"),
        ({"email": "nope"}, "email", "exactly one '@'"),
        ({"email": 5}, "email", "must be a str or None, not int"),
        ({"email": b"a@b.c"}, "email", "not bytes"),
        ({"phone_number": True}, "phone_number", "not bool"),
        ({"phone_number": -1}, "phone_number", "must not be negative"),
        ({"phone_number": 1.5}, "phone_number", "not float"),
        ({"phone_number": ["1"]}, "phone_number", "not list"),
        ({"phone_number": "12ab"}, "phone_number", "only digits"),
        ({"phone_number": 10**21}, "phone_number", "1 to 20 digits"),
    ],
)
def test_bad_arguments_raise_invalid_input_naming_the_field(ident: Identity, kwargs: dict[str, object], field: str, text: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        ident.identify(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field
    assert text in str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, IdentityError)
    with pytest.raises(InvalidInputError):
        ident.lookup(**kwargs)  # type: ignore[arg-type]
    assert ident.lookup(email="anyone@x.io") is None, "nothing was written"


def test_messages_match_the_core(ident: Identity) -> None:
    with pytest.raises(InvalidInputError, match=r"^invalid phone number: must have 1 to 20 digits$"):
        ident.identify(phone_number="+")


def test_bad_urls_and_options_are_invalid_input_without_the_password() -> None:
    with pytest.raises(InvalidInputError) as info:
        Identity("mysql://root:hunter2@db/shop")
    assert info.value.field == "url" and "`mysql`" in str(info.value) and "hunter2" not in str(info.value)
    with pytest.raises(InvalidInputError) as info:
        Identity("memory:", acquire_timeout=-1)
    assert info.value.field == "acquire_timeout"
    with pytest.raises(OverflowError):
        Identity("memory:", max_connections=-1)


def test_unreachable_database_is_an_unavailable_error_in_plain_words() -> None:
    with pytest.raises(UnavailableError) as info:
        Identity("postgres://shop:hunter2@127.0.0.1:1/shop", acquire_timeout=30)
    assert isinstance(info.value, StoreError) and isinstance(info.value, IdentityError)
    assert (info.value.code, info.value.retryable) == ("unavailable", True)
    # the cause once, at once (not the pool's timeout), and never the password
    assert str(info.value) == (
        "database unavailable while connecting to postgres: connection refused at 127.0.0.1:1 (is the server running?)"
    )


def test_a_missing_database_says_how_to_create_it(pg_url: str) -> None:
    url = pg_url.rsplit("/", 1)[0] + "/identity_py_missing"
    with pytest.raises(StoreError) as info:
        Identity(url)
    assert type(info.value) is StoreError and info.value.code == "store" and not info.value.retryable
    assert str(info.value) == (
        "database error while connecting to postgres: database \"identity_py_missing\" does not exist: "
        "create it with createdb identity_py_missing"
    )


def test_every_kind_has_its_class_and_code() -> None:
    kinds = {
        InvalidInputError: "invalid_input",
        ConflictError: "conflict",
        NotFoundError: "not_found",
        BlockedValueError: "blocked_value",
        StoreError: "store",
        UnavailableError: "unavailable",
        ContentionError: "contention",
        CorruptDataError: "corrupt_data",
        ClosedError: "closed",
        InternalError: "internal",
    }
    for kind, code in kinds.items():
        assert issubclass(kind, IdentityError) and kind.code == code, kind
    assert [k.__name__ for k in kinds if k.retryable] == ["UnavailableError", "ContentionError"]


def test_use_after_close_raises_closed_error() -> None:
    with Identity("memory:") as ident:
        ident.identify(email="a@x.io")
    assert ident.closed
    with pytest.raises(ClosedError, match="this Identity is closed"):
        ident.identify(email="a@x.io")
    with pytest.raises(ClosedError):
        ident.lookup(email="a@x.io")
    ident.close()  # idempotent


def test_async_use_after_close_raises_closed_error() -> None:
    async def main() -> None:
        ident = await AsyncIdentity.connect("memory:")
        await ident.close()
        assert ident.closed
        with pytest.raises(ClosedError, match="this AsyncIdentity is closed"):
            await ident.identify(email="a@x.io")
        async with await AsyncIdentity.connect("sqlite::memory:") as other:
            assert (await other.identify(email="a@x.io")).primary_contact_id == 1
        assert other.closed

    asyncio.run(main())


def test_async_errors_arrive_as_exceptions_of_the_awaitable() -> None:
    async def main() -> None:
        with pytest.raises(UnavailableError):
            await AsyncIdentity.connect("postgres://u:p@127.0.0.1:1/x", acquire_timeout=0.5)
        ident = await AsyncIdentity.connect("memory:")
        with pytest.raises(InvalidInputError):
            await ident.identify(email="nope")

    asyncio.run(main())


def test_contact_is_an_immutable_comparable_hashable_picklable_value(ident: Identity) -> None:
    c = ident.identify(email="doc@x.io", phone_number="1")
    d = ident.identify(email="doc@x.io", phone_number="1")
    assert c == d and hash(c) == hash(d) and c is not d
    assert c != ident.identify(email="other@x.io")
    assert pickle.loads(pickle.dumps(c)) == c
    assert repr(c) == "Contact(primary_contact_id=1, emails=['doc@x.io'], phone_numbers=['1'], secondary_contact_ids=[])"
    assert c.to_dict() == {"primaryContactId": 1, "emails": ["doc@x.io"], "phoneNumbers": ["1"], "secondaryContactIds": []}
    with pytest.raises(AttributeError):
        c.primary_contact_id = 2  # type: ignore[misc]
    c.emails.append("mutating@a.copy")
    assert c.emails == ["doc@x.io"]
    assert Contact(1, ["a@b.c"], [], [2]).secondary_contact_ids == [2]


def test_repr_of_handles(ident: Identity) -> None:
    assert repr(ident) == "Identity(backend='sqlite', tenant='default', closed=False)"
    assert repr(ident.tenant("shop-42")) == "Identity(backend='sqlite', tenant='shop-42', closed=False)"
    assert ident.backend == "sqlite"


def test_forked_child_gets_a_clear_error_not_a_hang(sqlite_path: pathlib.Path) -> None:
    parent = Identity(f"sqlite://{sqlite_path}")
    parent.identify(email="before@x.io")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what happened through the pipe, then exit at once
        try:
            try:
                parent.identify(email="child@x.io")
                outcome = "no error"
            except IdentityError as e:
                outcome = f"{type(e).__name__}: {e}"
            fresh = Identity(f"sqlite://{sqlite_path}")
            outcome += f"|fresh={fresh.identify(email='child@x.io').primary_contact_id}"
        except BaseException as e:  # noqa: BLE001 - anything goes back to the parent
            outcome = f"crash: {e!r}"
        os.write(write, outcome.encode())
        os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    outcome = os.read(read, 4096).decode()
    assert os.waitstatus_to_exitcode(status) == 0
    assert outcome.startswith("IdentityError: this Identity was created in process"), outcome
    assert "after fork" in outcome and outcome.endswith("|fresh=2"), outcome
    assert parent.identify(email="after@x.io").primary_contact_id == 3, "the parent still works"


def test_stubs_match_the_runtime() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "identity_reconciliation", "--ignore-missing-stub"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_typed_example_type_checks() -> None:
    example = pathlib.Path(__file__).parent / "typed_usage.py"
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", str(example)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_version_is_exported() -> None:
    assert ir.__version__ == "0.1.0"
