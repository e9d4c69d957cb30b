"""What a session ran on: Python, packages, machine, GPUs and git state.

Captured once per session, off the kernel's start-up path and out of its memory and
its GIL: the tracer runs it in a child process (``start_capture``) and reads the JSON
it prints when the first record is written (``finish_capture``). Every probe has a
short timeout and failing probes yield ``None`` or empty values, never an exception. No
environment variable is recorded: they often hold secrets (tests/server/test_secrets.py
checks it).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import cast

from ..records import Environment, GitState

TIMEOUT_S = 3.0


def capture_environment(directory: str | Path) -> Environment:
    import platform  # the child's: the kernel never needs it

    packages = installed_packages()
    lines = "\n".join(f"{name}=={version}" for name, version in packages)
    return Environment(
        python=platform.python_version(),
        implementation=platform.python_implementation(),
        platform=platform.platform(),
        hostname=socket.gethostname(),
        cpu_count=os.cpu_count() or 1,
        memory_bytes=memory_bytes(),
        gpus=gpu_names(),
        packages_hash=hashlib.sha256(lines.encode()).hexdigest(),
        packages=packages,
        git=git_state(Path(directory)),
    )


def start_capture(directory: str) -> subprocess.Popen[str] | None:
    """``capture_environment(directory)`` in a child process of this Python, on this
    process's ``sys.path`` (it sees the same packages); None if it cannot start.

    The child has a session of its own: ipykernel's shutdown signals every child in the
    kernel's process group and waits until none is left, and this one stays (a zombie)
    until a record needs its answer, so a kernel that journaled nothing was only killed
    after the server's shutdown wait (seconds instead of ~0.3 s)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    try:
        return subprocess.Popen(
            [sys.executable, "-m", __name__, directory],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
            start_new_session=True,
        )
    except (OSError, ValueError):
        return None


def finish_capture(
    child: subprocess.Popen[str] | None, directory: str, wait_s: float
) -> Environment:
    """What ``child`` printed; captured here instead when it failed or took too long."""
    if child is not None:
        try:
            out, _ = child.communicate(timeout=wait_s)
            if child.returncode == 0:
                return cast(Environment, json.loads(out))
        except (subprocess.SubprocessError, ValueError):
            child.kill()
            child.communicate()
    return capture_environment(directory)


def installed_packages() -> list[tuple[str, str]]:
    """(name, version) of every installed distribution, sorted, names normalised."""
    import importlib.metadata  # ~10 ms and ~2 MB: only in the child process

    seen: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"] if dist.metadata else None
        if name:
            seen.setdefault(name.lower().replace("_", "-"), dist.version)
    return sorted(seen.items())


def memory_bytes() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def gpu_names() -> list[str]:
    smi = shutil.which("nvidia-smi")
    if smi is not None:
        out = _run([smi, "-L"], None)
        if out:
            return [line.split(" (UUID")[0].split(": ", 1)[-1] for line in out.splitlines() if line]
    names: list[str] = []
    for info in sorted(Path("/proc/driver/nvidia/gpus").glob("*/information")):
        try:
            for line in info.read_text().splitlines():
                if line.startswith("Model:"):
                    names.append(line.split(":", 1)[1].strip())
        except OSError:
            continue
    return names


def git_state(directory: Path) -> GitState | None:
    git = shutil.which("git")
    if git is None or not directory.is_dir():
        return None
    root = _run([git, "rev-parse", "--show-toplevel"], directory)
    if not root:
        return None
    commit = _run([git, "rev-parse", "--verify", "-q", "HEAD"], directory)
    status = _run([git, "status", "--porcelain", "--untracked-files=no"], directory)
    return GitState(root=root.strip(), commit=commit.strip() or None, dirty=bool(status.strip()))


def _run(argv: list[str], cwd: Path | None) -> str:
    try:
        done = subprocess.run(
            argv,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout if done.returncode == 0 else ""


if __name__ == "__main__":  # the child of ``start_capture``
    print(json.dumps(capture_environment(sys.argv[1] if len(sys.argv) > 1 else os.getcwd())))
