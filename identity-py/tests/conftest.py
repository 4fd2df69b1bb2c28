"""Fixtures: a fresh PostgreSQL database per test, SQLite files, the shared vectors, and the
shared test oracle (invariants in SQL, customers against a union-find)."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import uuid
from typing import Any, Iterator

import psycopg
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
VECTOR_FILES = sorted((ROOT / "tests" / "vectors").glob("*.json"))
ADMIN_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def load_vector(path: pathlib.Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def with_database(url: str, name: str) -> str:
    base, _, query = url.partition("?")
    scheme, _, rest = base.partition("://")
    authority = rest.split("/", 1)[0]
    return f"{scheme}://{authority}/{name}" + (f"?{query}" if query else "")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A database created for this test and dropped after it."""
    name = f"identity_py_{uuid.uuid4().hex[:16]}"
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True)
    except psycopg.OperationalError as e:  # pragma: no cover - environment problem
        pytest.fail(f"PostgreSQL tests need a server: set DATABASE_URL or run scripts/test ({e})")
    with admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield with_database(ADMIN_URL, name)
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def sqlite_path(tmp_path: pathlib.Path) -> pathlib.Path:
    return tmp_path / "shop.db"


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> str:
    """The URL of a fresh database of each backend that has SQL to inspect."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'shop.db'}"
    return str(request.getfixturevalue("pg_url"))


ROWS_SQL = "SELECT id, linked_id, link_precedence, tenant_id FROM contact WHERE deleted_at IS NULL ORDER BY id"

# SQLite files are only ever opened by another process: a second copy of SQLite in this process
# (Python's sqlite3 next to the one in the native module) would not see the native one's locks,
# because POSIX file locks belong to the process.
SQLITE_HELPER = r"""
import json, select, sqlite3, sys
path, mode = sys.argv[1], sys.argv[2]
conn = sqlite3.connect(path, isolation_level=None)
if mode == "lock":
    conn.execute("BEGIN IMMEDIATE")
    print("locked", flush=True)
    # released when told, or after 3 s whatever happens (a starved test must not hang)
    select.select([sys.stdin], [], [], 3.0)
    conn.execute("ROLLBACK")
else:
    for _ in sys.stdin:
        print(json.dumps(conn.execute(sys.argv[3]).fetchall()), flush=True)
"""


class SqliteProcess:
    """A helper process on a SQLite file: answers queries, or holds the write lock."""

    def __init__(self, path: str, mode: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SQLITE_HELPER, path, mode, ROWS_SQL],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        if mode == "lock":
            assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "locked"

    def ask(self) -> list[Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def release(self) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write("\n")
            self.proc.stdin.close()
        except BrokenPipeError:  # it already let go by itself
            pass
        self.proc.wait(timeout=10)


_INSPECTORS: dict[str, SqliteProcess] = {}


def rows(url: str, tenant: str = "default") -> list[tuple[int, int | None, str]]:
    """Every visible row of `tenant` as (id, linked_id, link_precedence), by id."""
    if url.startswith("sqlite://"):
        path = url.removeprefix("sqlite://")
        inspector = _INSPECTORS.get(path) or _INSPECTORS.setdefault(path, SqliteProcess(path, "query"))
        every = inspector.ask()
    else:
        with psycopg.connect(url) as conn:
            every = conn.execute(ROWS_SQL).fetchall()
    return [(r[0], r[1], r[2]) for r in every if r[3] == tenant]


def hold_sqlite_write_lock(path: pathlib.Path) -> SqliteProcess:
    """Holds the file's write lock from another process until `.release()`."""
    return SqliteProcess(str(path), "lock")


def oracle_path() -> str:
    """The shared test oracle (`identity-oracle`, built from the Rust testkit by scripts/test)."""
    path = os.environ.get("IDENTITY_ORACLE")
    if not path or not pathlib.Path(path).is_file():
        pytest.fail("set IDENTITY_ORACLE to the identity-oracle binary (scripts/test builds it)")
    return path


def assert_oracle(
    pg: str,
    requests: list[tuple[str | None, str | None]] | None = None,
    tenants: dict[str, list[tuple[str | None, str | None]]] | None = None,
) -> None:
    """The invariants I1-I4 hold in SQL (within every tenant) and, given every request sent (to
    the default tenant, or per tenant), each tenant's stored customers are the union-find over its
    requests: checked by the one oracle the Rust, Python and Node suites share."""
    sent = {"default": requests} if requests is not None else dict(tenants or {})
    args = [oracle_path(), "check", pg] + (["--requests"] if sent else [])
    lines = "".join(
        json.dumps({"email": e, "phoneNumber": p, "tenant": t}) + "\n" for t, reqs in sent.items() for e, p in reqs
    )
    done = subprocess.run(args, input=lines, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"oracle: {done.stdout}{done.stderr}"


def workload(seed: int, count: int, identifiers: int = 6, per_namespace: int = 10) -> list[tuple[str | None, str | None]]:
    """Deterministic requests over a small pool of identifiers per namespace (70% both values)."""
    import random

    rng = random.Random(seed)
    out: list[tuple[str | None, str | None]] = []
    for i in range(count):
        ns = i // per_namespace
        email = f"c{rng.randrange(identifiers)}.n{ns}@shop.test"
        phone = f"{ns}555{rng.randrange(identifiers):03d}"
        kind = rng.randrange(100)
        out.append((email, phone) if kind < 70 else (email, None) if kind < 85 else (None, phone))
    return out


# I3 as a split leaves it: no unblocked value in two customers (a count of violations)
I3_UNBLOCKED = """
SELECT count(*) FROM (
    SELECT 1 FROM contact c WHERE deleted_at IS NULL AND phone_number IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM identity_blocked b WHERE b.tenant_id = c.tenant_id
                      AND b.kind = 'phone' AND NOT b.pattern AND b.value = c.phone_number)
    GROUP BY tenant_id, phone_number HAVING count(DISTINCT coalesce(linked_id, id)) > 1
    UNION ALL
    SELECT 1 FROM contact c WHERE deleted_at IS NULL AND email IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM identity_blocked b WHERE b.tenant_id = c.tenant_id
                      AND b.kind = 'email' AND NOT b.pattern AND b.value = c.email)
    GROUP BY tenant_id, email HAVING count(DISTINCT coalesce(linked_id, id)) > 1) x
"""
