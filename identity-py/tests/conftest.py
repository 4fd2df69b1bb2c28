"""Fixtures: a fresh PostgreSQL database per test, SQLite files, the shared vectors, and the
invariant checks in SQL."""

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


ROWS_SQL = "SELECT id, linked_id, link_precedence FROM contact WHERE deleted_at IS NULL ORDER BY id"

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


def rows(url: str) -> list[tuple[int, int | None, str]]:
    """Every visible row as (id, linked_id, link_precedence), by id."""
    if url.startswith("sqlite://"):
        path = url.removeprefix("sqlite://")
        inspector = _INSPECTORS.get(path) or _INSPECTORS.setdefault(path, SqliteProcess(path, "query"))
        return [tuple(r) for r in inspector.ask()]  # type: ignore[misc]
    with psycopg.connect(url) as conn:
        return [tuple(r) for r in conn.execute(ROWS_SQL).fetchall()]  # type: ignore[misc]


def hold_sqlite_write_lock(path: pathlib.Path) -> SqliteProcess:
    """Holds the file's write lock from another process until `.release()`."""
    return SqliteProcess(str(path), "lock")


INVARIANTS = {
    "I2 secondary not linked to a visible primary": """
        SELECT count(*) FROM contact s LEFT JOIN contact p ON p.id = s.linked_id
        WHERE s.deleted_at IS NULL AND s.linked_id IS NOT NULL
          AND (p.id IS NULL OR p.deleted_at IS NOT NULL OR p.linked_id IS NOT NULL
               OR p.link_precedence <> 'primary')""",
    "I1 secondary older than its primary": """
        SELECT count(*) FROM contact s JOIN contact p ON p.id = s.linked_id
        WHERE s.deleted_at IS NULL AND (s.created_at, s.id) < (p.created_at, p.id)""",
    "I3 email in two customers": """
        SELECT count(*) FROM (SELECT email FROM contact WHERE deleted_at IS NULL AND email IS NOT NULL
        GROUP BY email HAVING count(DISTINCT coalesce(linked_id, id)) > 1) x""",
    "I3 phone in two customers": """
        SELECT count(*) FROM (SELECT phone_number FROM contact WHERE deleted_at IS NULL
        AND phone_number IS NOT NULL GROUP BY phone_number
        HAVING count(DISTINCT coalesce(linked_id, id)) > 1) x""",
    "I4 row that adds no new email or phone": """
        SELECT count(*) FROM contact r WHERE r.deleted_at IS NULL
          AND (r.email IS NULL OR EXISTS (SELECT 1 FROM contact o WHERE o.deleted_at IS NULL
               AND o.id < r.id AND o.email = r.email))
          AND (r.phone_number IS NULL OR EXISTS (SELECT 1 FROM contact o
               WHERE o.deleted_at IS NULL AND o.id < r.id AND o.phone_number = r.phone_number))""",
}


def assert_invariants(pg: str) -> None:
    with psycopg.connect(pg) as conn:
        broken = {name: conn.execute(sql).fetchone()[0] for name, sql in INVARIANTS.items()}  # type: ignore[index]
    assert all(n == 0 for n in broken.values()), broken


def stored_customers(pg: str) -> set[frozenset[str]]:
    """The customers in the table, as sets of identifiers."""
    groups: dict[int, set[str]] = {}
    with psycopg.connect(pg) as conn:
        for id_, linked, email, phone in conn.execute(
            "SELECT id, linked_id, email, phone_number FROM contact WHERE deleted_at IS NULL"
        ):
            group = groups.setdefault(linked or id_, set())
            if email:
                group.add(f"e:{email}")
            if phone:
                group.add(f"p:{phone}")
    return {frozenset(g) for g in groups.values()}


def model_customers(requests: list[tuple[str | None, str | None]]) -> set[frozenset[str]]:
    """Union-find over the identifiers of every request."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for email, phone in requests:
        keys = ([f"e:{email}"] if email else []) + ([f"p:{phone}"] if phone else [])
        roots = [find(k) for k in keys]
        for r in roots[1:]:
            parent[r] = roots[0]
    groups: dict[str, set[str]] = {}
    for k in list(parent):
        groups.setdefault(find(k), set()).add(k)
    return {frozenset(g) for g in groups.values()}


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
