"""Identifies per second through the Python binding, for comparing two builds of the wheel.

    python bench/python/binding_speed.py [--calls N] [--rounds R] [URL]

Runs R rounds of N identifies on a fresh store at URL (default `memory:`, so the core's own work
and the binding's are what is timed, not a database's): N/4 customers of one email and one phone,
each seen four times (once new, then returning), every tenth call with the next customer's
phone (a merge the first time). Prints each round's rate and the best. Compare two wheels by running it under each
venv in turn, in one sitting (BENCHMARKS.md, "Release artifacts").
"""

from __future__ import annotations

import argparse
import time

from identity_reconciliation import Identity


def one_round(url: str, calls: int) -> float:
    with Identity(url) as ident:
        started = time.perf_counter()
        customers = max(calls // 4, 1)
        for i in range(calls):
            k = i % customers
            phone = k + 1 if i % 10 == 9 else k
            ident.identify(email=f"c{k}@shop.io", phone_number=str(5_550_000 + phone))
        return calls / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", default="memory:")
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rates = [one_round(args.url, args.calls) for _ in range(args.rounds)]
    print(" ".join(f"{r:,.0f}" for r in rates), f"best {max(rates):,.0f} identifies/s")


if __name__ == "__main__":
    main()
