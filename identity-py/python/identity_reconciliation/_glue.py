"""Delivers results from the native runtime's threads to asyncio futures (via
``loop.call_soon_threadsafe``), ignoring futures that were cancelled meanwhile."""

from __future__ import annotations

import asyncio
from typing import Any


def resolve(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


def reject(future: asyncio.Future[Any], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)
