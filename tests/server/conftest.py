"""A real Jupyter server with the mlprod_nb extension, requiring a token.

pytest-jupyter's fixtures are imported here rather than named in ``pytest_plugins``
(allowed only in the top-level conftest), so they serve this folder only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403


@pytest.fixture
def store_home(jp_root_dir: Path) -> Path:
    return jp_root_dir / ".mlprod"


@pytest.fixture
def jp_server_config(store_home: Path) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"mlprod_nb": True}},
        "MlprodApp": {"store_home": str(store_home), "idle_close_seconds": 0.5},
    }
