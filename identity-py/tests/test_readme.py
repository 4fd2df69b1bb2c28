"""The Python snippets of README.md, identity-py/README.md and docs/operations.md run as written
(against a temporary database or folder), so the documentation cannot rot."""

from __future__ import annotations

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def python_blocks(path: pathlib.Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)


def test_the_readme_snippets_run(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    quickstart, governance, history, split, erase, limits, imported, table, feed, webhooks, metrics = python_blocks(
        ROOT / "README.md"
    )
    code = quickstart.replace("sqlite:///tmp/shop.db", f"sqlite://{tmp_path / 'shop.db'}")
    exec(compile(code, "README.md", "exec"), {})  # noqa: S102 - our own documentation
    assert "['+919876543210']" in capsys.readouterr().out, "the shop in India stores E.164"
    exec(compile(governance, "README.md", "exec"), {})  # noqa: S102
    printed = capsys.readouterr().out.splitlines()
    assert printed == ["[] [{'field': 'email', 'reason': 'blocked'}]", "['email']"], printed
    exec(compile(history, "README.md", "exec"), {})  # noqa: S102
    printed = capsys.readouterr().out.splitlines()
    assert printed == ["1 ['created', 'created', 'merged']", "2"], printed
    exec(compile(split, "README.md", "exec"), {})  # noqa: S102
    printed = capsys.readouterr().out.splitlines()
    assert printed == ["['doc@hillvalley.edu'] ['biff@hillvalley.edu']", "1 ['kept_apart']"], printed
    exec(compile(erase, "README.md", "exec"), {})  # noqa: S102
    printed = capsys.readouterr().out.splitlines()
    assert printed == ["[1] True", "[] ['suppressed']"], printed
    exec(compile(limits, "README.md", "exec"), {})  # noqa: S102
    printed = capsys.readouterr().out.splitlines()
    assert printed == ["['5550101'] ['limit']"], printed
    exec(compile(imported, "README.md", "exec"), {})  # noqa: S102
    printed = capsys.readouterr().out.splitlines()
    assert printed == [
        "2 1 [(2, \"invalid email: must contain exactly one '@'\")]",
        "[['doc@hillvalley.edu', 'emmett@hillvalley.edu']]",
    ], printed
    exec(compile(table, "README.md", "exec"), {})  # noqa: S102
    printed = capsys.readouterr().out.splitlines()
    assert printed == ["[(25420, 25417, 'normalized')]", "25421 25422"], printed
    exec(compile(feed, "README.md", "exec"), {})  # noqa: S102
    printed = capsys.readouterr().out.splitlines()
    assert printed == ["['contact.created', 'contact.linked'] 1", "[]"], printed
    exec(compile(webhooks, "README.md", "exec"), {})  # noqa: S102
    printed = capsys.readouterr().out.splitlines()
    assert printed == ["True [['customer.merged', 'customer.split']]"], printed
    exec(compile(metrics, "README.md", "exec"), {})  # noqa: S102
    printed = capsys.readouterr().out.splitlines()
    assert printed == ["1 2"], printed


@pytest.mark.parametrize("index", [0, 1])
def test_the_binding_readme_sync_snippets_run(tmp_path: pathlib.Path, index: int) -> None:
    blocks = python_blocks(ROOT / "identity-py" / "README.md")
    from identity_reconciliation import Identity

    with Identity(f"sqlite://{tmp_path / 'setup.db'}") as ident:
        code = blocks[index].replace("sqlite:///tmp/shop.db", f"sqlite://{tmp_path / 'shop.db'}")
        namespace = {"ident": ident}
        exec(compile(code, "identity-py/README.md", "exec"), namespace)  # noqa: S102
        if index == 1:
            assert namespace["shop"].tenant_id == "shop-42"


def test_the_binding_readme_async_snippet_runs(capsys: pytest.CaptureFixture[str]) -> None:
    block = next(b for b in python_blocks(ROOT / "identity-py" / "README.md") if "AsyncIdentity" in b)
    exec(compile(block, "identity-py/README.md", "exec"), {})  # noqa: S102
    assert capsys.readouterr().out.splitlines() == ["1 2"]


def test_the_operations_snippet_runs(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    (block,) = python_blocks(ROOT / "docs" / "operations.md")
    code = block.replace("/var/backups/identity", str(tmp_path))
    exec(compile(code, "docs/operations.md", "exec"), {})  # noqa: S102 - our own documentation
    printed = capsys.readouterr().out.splitlines()
    assert printed == ["True", "1 [1] []"], printed
    assert (tmp_path / "erasures.jsonl").read_text().count("\n") == 1, "the erase reached the log"
