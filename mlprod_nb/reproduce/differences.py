"""What differs between a recorded execution and now, or between two results (pure).

Before re-executing: each input file's recorded content hash against its hash now, and
the recorded environment (Python, package versions) against this one. After: the files
written (their last content hash) and the metrics (their last value; floats equal
within a relative tolerance) of the original against the reproduction's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["input", "code", "python", "package", "output", "metric", "failure"]


@dataclass(frozen=True)
class Difference:
    kind: Kind
    subject: str  # the file, package, metric or cell
    before: str | None  # as recorded (None: absent)
    after: str | None  # now (None: absent)

    def describe(self) -> str:
        before, after = self.before or "missing", self.after or "missing"
        if self.kind == "failure":
            return f"{self.subject}: {self.after}"
        what = {"input": "input", "output": "output", "metric": "metric"}.get(self.kind, "")
        return f"{what + ' ' if what else ''}{self.subject}: {before} -> {after}".lstrip()

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "subject": self.subject,
            "before": self.before,
            "after": self.after,
        }


def _short(digest: str | None) -> str | None:
    return None if digest is None else f"sha256 {digest[:12]}"


def inputs(
    recorded: Mapping[str, str | None], current: Mapping[str, str | None]
) -> list[Difference]:
    """Input files whose content is not what the recorded execution read."""
    return [
        Difference("input", path, _short(sha), _short(current.get(path)))
        for path, sha in sorted(recorded.items())
        if sha is not None and current.get(path) != sha
    ]


def environment(
    recorded_python: str | None,
    python: str,
    recorded_packages: Mapping[str, str],
    packages: Mapping[str, str],
) -> list[Difference]:
    """Python and package versions that differ (packages recorded or installed, not both)."""
    found = []
    if recorded_python and recorded_python.split()[0] != python.split()[0]:
        found.append(Difference("python", "Python", recorded_python, python))
    if recorded_packages:  # an environment that was not recorded cannot be compared
        for name in sorted(set(recorded_packages) | set(packages)):
            before, after = recorded_packages.get(name), packages.get(name)
            if before != after:
                found.append(Difference("package", name, before, after))
    return found


def _same_number(a: float | None, b: float | None, rtol: float) -> bool:
    if a is None or b is None:
        return a is b
    if math.isnan(a) and math.isnan(b):
        return True
    return math.isclose(a, b, rel_tol=rtol, abs_tol=0.0) or a == b


def outcome(
    files_before: Mapping[str, str | None],
    files_after: Mapping[str, str | None],
    metrics_before: Mapping[str, float | None],
    metrics_after: Mapping[str, float | None],
    rtol: float,
) -> list[Difference]:
    """Written files with another content hash, metrics beyond ``rtol``, either side."""
    found = [
        Difference("output", path, _short(files_before.get(path)), _short(files_after.get(path)))
        for path in sorted(set(files_before) | set(files_after))
        if files_before.get(path) != files_after.get(path)
    ]
    for name in sorted(set(metrics_before) | set(metrics_after)):
        before, after = metrics_before.get(name), metrics_after.get(name)
        present = name in metrics_before and name in metrics_after
        if not present or not _same_number(before, after, rtol):
            show = [
                None if name not in m else repr(m[name]) for m in (metrics_before, metrics_after)
            ]
            found.append(Difference("metric", name, show[0], show[1]))
    return found
