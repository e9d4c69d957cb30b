"""What ``mlprod-nb reproduce`` found: the drift it checked first, what differs after."""

from __future__ import annotations

import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ReproduceError
from . import differences
from .differences import Difference

DEFAULT_RTOL = 1e-9


def refuse_drift(subject: str, drift: Sequence[Difference], allow: bool) -> None:
    """Stop before re-executing when inputs or environment drifted, unless allowed."""
    if drift and not allow:
        listed = "\n  ".join(d.describe() for d in drift)
        raise ReproduceError(
            f"{subject} cannot be reproduced as recorded: {len(drift)} difference(s)\n  {listed}",
            hint="restore the recorded inputs and packages, or pass --allow-drift to run it "
            "anyway (the differences are then reported with the results)",
        )


def environment_drift(recorded_python: str | None, recorded: dict[str, str]) -> list[Difference]:
    """The recorded environment against this process's (the kernel's, by default)."""
    from ..tracer.environment import installed_packages

    return differences.environment(
        recorded_python, platform.python_version(), recorded, dict(installed_packages())
    )


@dataclass(frozen=True)
class Report:
    subject: str  # "session 3f2a9c1e8b7d" / "run 20261203-..."
    reproduced: str  # the new session's or run's id
    drift: tuple[Difference, ...]  # inputs and environment, checked before
    differences: tuple[Difference, ...]  # the results, after
    compared: int  # files and metrics compared
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.differences

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "reproduced": self.reproduced,
            "ok": self.ok,
            "drift": [d.to_json() for d in self.drift],
            "differences": [d.to_json() for d in self.differences],
            "compared": self.compared,
            "notes": list(self.notes),
        }

    def text(self) -> str:
        lines = [f"reproduced {self.subject} as {self.reproduced}"]
        lines += [f"  note: {n}" for n in self.notes]
        if self.drift:
            lines.append(f"  ran despite {len(self.drift)} difference(s) before (--allow-drift):")
            lines += [f"    {d.describe()}" for d in self.drift]
        if self.ok:
            lines.append(f"  the same: {self.compared} output file(s) and metric(s) compared")
        else:
            lines.append(f"  {len(self.differences)} of {self.compared} result(s) differ:")
            lines += [f"    {d.describe()}" for d in self.differences]
        return "\n".join(lines)
