"""Where a recorded notebook path is now, after renames and moves (pure)."""

from __future__ import annotations

import pytest

from mlprod_nb.lineage.renames import Rename, Renames

MOVES = Renames(
    [
        Rename("/r/Untitled.ipynb", "/r/churn.ipynb", 10.0),  # Lab's first-save rename
        Rename("/r/churn.ipynb", "/r/work/churn.ipynb", 20.0),  # then moved to a folder
        Rename("/r/work", "/r/archive", 30.0),  # then the folder renamed
    ]
)


@pytest.mark.parametrize(
    ("path", "recorded", "now"),
    [
        ("/r/Untitled.ipynb", 5.0, "/r/archive/churn.ipynb"),  # the whole chain
        ("/r/Untitled.ipynb", 15.0, "/r/Untitled.ipynb"),  # a new Untitled after the rename
        ("/r/churn.ipynb", 15.0, "/r/archive/churn.ipynb"),
        ("/r/work/churn.ipynb", 25.0, "/r/archive/churn.ipynb"),
        ("/r/work/other.ipynb", 25.0, "/r/archive/other.ipynb"),  # in the renamed folder
        ("/r/workshop.ipynb", 25.0, "/r/workshop.ipynb"),  # a name that only starts alike
        ("/r/archive/churn.ipynb", 35.0, "/r/archive/churn.ipynb"),
    ],
)
def test_now(path: str, recorded: float, now: str) -> None:
    assert MOVES.now(path, recorded) == now


def test_earlier_names_follow_chains_back() -> None:
    assert MOVES.earlier_names("/r/archive/churn.ipynb") == {
        "/r/archive/churn.ipynb",
        "/r/work/churn.ipynb",
        "/r/churn.ipynb",
        "/r/Untitled.ipynb",
    }
    assert MOVES.earlier_names("/r/elsewhere.ipynb") == {"/r/elsewhere.ipynb"}
