"""Regenerate notebooks/data/customers.csv, the example's small churn data set.

Deterministic (fixed seed), standard library only: ``python notebooks/make_data.py``.
"""

from __future__ import annotations

import csv
import math
import random
from pathlib import Path

PLANS = ("basic", "plus", "pro")


def rows(n: int = 2000, seed: int = 7) -> list[dict[str, object]]:
    rng = random.Random(seed)
    out: list[dict[str, object]] = []
    for i in range(n):
        plan = rng.choice(PLANS)
        tenure = rng.randint(1, 72)
        fee = round({"basic": 19, "plus": 39, "pro": 79}[plan] * rng.uniform(0.8, 1.2), 2)
        calls = min(12, int(rng.expovariate(0.6)))
        score = -1.2 + 0.45 * calls - 0.05 * tenure + 0.015 * fee + rng.gauss(0, 0.8)
        churned = int(1 / (1 + math.exp(-score)) > 0.5)
        out.append(
            {
                "customer_id": f"C{i:05d}",
                "plan": plan,
                "tenure_months": "" if rng.random() < 0.02 else tenure,
                "monthly_fee": "" if rng.random() < 0.03 else fee,
                "support_calls": calls,
                "churned": churned,
            }
        )
    return out


def main() -> None:
    target = Path(__file__).parent / "data" / "customers.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    data = rows()
    with target.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(data[0]))
        writer.writeheader()
        writer.writerows(data)
    print(f"wrote {len(data)} rows to {target}")


if __name__ == "__main__":
    main()
