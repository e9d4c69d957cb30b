"""export(content=...): the notebook as an editor holds it compiles as the saved file would."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from mlprod_nb.errors import NotebookError
from mlprod_nb.pipeline.export import export

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def _lean(notebook: dict[str, Any]) -> dict[str, Any]:
    """What the panel sends: cells without outputs or execution counts, sources as text."""
    cells = [
        {
            "id": c["id"],
            "cell_type": c["cell_type"],
            "source": "".join(c["source"]) if isinstance(c["source"], list) else c["source"],
            "metadata": c.get("metadata", {}),
        }
        for c in notebook["cells"]
    ]
    return {**notebook, "cells": cells}


def test_content_compiles_as_the_saved_file(tmp_path: Path) -> None:
    shutil.copy(NOTEBOOKS / "churn.ipynb", tmp_path / "churn.ipynb")
    path = tmp_path / "churn.ipynb"
    from_file = export(path, check=True, use_tracer=False).manifest.to_json()
    content = _lean(json.loads(path.read_text()))
    from_content = export(path, check=True, use_tracer=False, content=content).manifest.to_json()
    for manifest in (from_file, from_content):
        manifest["source"].pop("sha256")
    assert from_content == from_file


def test_content_wins_over_the_file(tmp_path: Path) -> None:
    shutil.copy(NOTEBOOKS / "churn.ipynb", tmp_path / "churn.ipynb")
    path = tmp_path / "churn.ipynb"
    content = _lean(json.loads(path.read_text()))
    [summary] = [c for c in content["cells"] if c["id"] == "summary"]
    summary["metadata"] = {"tags": ["step:report"]}
    result = export(path, use_tracer=False, content=content)
    assert "report" in [s.name for s in result.manifest.steps]
    assert result.folder == tmp_path / "churn.pipeline"  # next to the notebook's path
    saved = json.loads(path.read_text())
    assert [c["metadata"]["tags"] for c in saved["cells"] if c["id"] == "summary"] == [
        ["step:summary"]
    ]


def test_a_directory_is_not_a_notebook_even_with_content(tmp_path: Path) -> None:
    (tmp_path / "nb.ipynb").mkdir()
    content = {"nbformat": 4, "metadata": {}, "cells": [{"cell_type": "code", "source": "x=1"}]}
    with pytest.raises(NotebookError, match="directory"):
        export(tmp_path / "nb.ipynb", check=True, use_tracer=False, content=content)
