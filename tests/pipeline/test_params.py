"""Parameters: read from the parameters cell, typed by their defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlprod_nb.errors import ParameterError
from mlprod_nb.pipeline.params import Parameter, read_parameters, read_params_file, resolve
from mlprod_nb.pipeline.tags import SourceCell

SOURCE = """\
# comments are fine
n = 3
rate = 0.5
name = "x"
flag = False
cols = ["a", "b"]
opts = {"k": 1}
nothing = None
neg: int = -2
"""


@pytest.fixture
def params(tmp_path: Path) -> list[Parameter]:
    return read_parameters([SourceCell("p", 0, SOURCE, ("parameters",))], tmp_path / "nb.ipynb")


def test_types_from_defaults(params: list[Parameter]) -> None:
    assert [(p.name, p.type) for p in params] == [
        ("n", "int"),
        ("rate", "float"),
        ("name", "str"),
        ("flag", "bool"),
        ("cols", "list"),
        ("opts", "dict"),
        ("nothing", "none"),
        ("neg", "int"),
    ]


GOOD: list[tuple[str, str, Any]] = [
    ("n", "7", 7),
    ("rate", "3", 3.0),
    ("rate", "1e-3", 0.001),
    ("name", "123", "123"),
    ("flag", "true", True),
    ("flag", "No", False),
    ("cols", '["c"]', ["c"]),
    ("opts", "{k: 2}", {"k": 2}),
    ("nothing", "5", 5),
]


@pytest.mark.parametrize(("name", "text", "value"), GOOD)
def test_text_values_are_typed(params: list[Parameter], name: str, text: str, value: Any) -> None:
    assert resolve(params, [(name, text)])[name] == value


BAD = [("n", "abc"), ("n", "3.5"), ("rate", "fast"), ("flag", "maybe"), ("cols", "{a: 1}")]


@pytest.mark.parametrize(("name", "text"), BAD)
def test_wrong_types_are_rejected(params: list[Parameter], name: str, text: str) -> None:
    with pytest.raises(ParameterError) as caught:
        resolve(params, [(name, text)])
    assert f"parameter {name!r} expects" in str(caught.value)
    assert repr(text) in str(caught.value)


def test_unknown_parameter(params: list[Parameter]) -> None:
    with pytest.raises(ParameterError, match=r"unknown parameter 'nope'"):
        resolve(params, [("nope", "1")])


def test_yaml_file(params: list[Parameter], tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("n: 9\nrate: 2\ncols: [x]\n")
    assert resolve(params, values=read_params_file(good)) | {} == {
        **{p.name: p.default for p in params},
        "n": 9,
        "rate": 2.0,
        "cols": ["x"],
    }
    bad = tmp_path / "bad.yaml"
    bad.write_text("n: true\n")
    with pytest.raises(ParameterError, match="'n' expects int"):
        resolve(params, values=read_params_file(bad))
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(ParameterError, match="mapping"):
        read_params_file(tmp_path / "list.yaml")
