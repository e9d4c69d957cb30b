"""The registry type behind serializers, executors and read adapters, and its entry points.

Plug-ins are real installed distributions as far as ``importlib.metadata`` can
tell: a ``*.dist-info`` folder with an ``entry_points.txt`` on ``sys.path``.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlprod_nb.registry import Registry, RegistryError


@dataclass(frozen=True)
class Order:
    steps: list[tuple[str, bool]]  # (name, first) registered in turn
    expected: list[str]


ORDERS = {
    "appended": Order([("a", False), ("b", False)], ["a", "b"]),
    "first": Order([("a", False), ("b", True)], ["b", "a"]),
    "before the fallback": Order([("a", False), ("z", False), ("b", False)], ["a", "b", "z"]),
    "first before all": Order([("a", False), ("z", False), ("b", True)], ["b", "a", "z"]),
    "same name replaces": Order([("a", False), ("b", False), ("a", False)], ["b", "a"]),
}


@pytest.mark.parametrize("case", ORDERS.values(), ids=ORDERS.keys())
def test_items_are_tried_in_registration_order(case: Order) -> None:
    registry: Registry[str] = Registry("thing", fallback="z")
    for name, first in case.steps:
        registry.register(name, f"item {name}", first=first)
    assert registry.names() == case.expected
    assert list(registry) == [f"item {n}" for n in case.expected]
    assert registry.get(case.expected[0]) == f"item {case.expected[0]}"


def test_an_unknown_name_lists_the_known_ones() -> None:
    registry: Registry[int] = Registry("executor")
    registry.register("local", 1)
    registry.register("dask", 2)
    with pytest.raises(RegistryError, match=r"no executor named 'airflow' \(known: local, dask\)"):
        registry.get("airflow")
    assert "airflow" not in registry
    assert "dask" in registry


def install(site: Path, package: str, entry_points: str, module: str) -> None:
    """A distribution ``package`` as importlib.metadata finds one: dist-info plus its module."""
    info = site / f"{package}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    (site / f"{package}.py").write_text(textwrap.dedent(module))


def test_entry_points_are_read_on_the_first_lookup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(
        tmp_path,
        "fake_plugin",
        """
        [mlprod_nb.test_things]
        extra = fake_plugin:EXTRA
        local = fake_plugin:NOT_USED
        """,
        "EXTRA = 'from a plug-in'\nNOT_USED = 'the one in code wins'\n",
    )
    registry: Registry[str] = Registry("thing", group="mlprod_nb.test_things")
    registry.register("local", "in code")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    assert "fake_plugin" not in sys.modules  # nothing is loaded before a lookup
    assert registry.get("extra") == "from a plug-in"
    assert registry.names() == ["local", "extra"]
    assert registry.get("local") == "in code"


def test_a_broken_plugin_names_its_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install(
        tmp_path,
        "broken_plugin",
        "[mlprod_nb.test_broken]\nbad = broken_plugin:MISSING\n",
        "OTHER = 1\n",
    )
    registry: Registry[object] = Registry("serializer", group="mlprod_nb.test_broken")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    with pytest.raises(RegistryError, match="'bad' of package 'broken_plugin' does not load") as e:
        registry.names()
    assert e.value.hint is not None
    assert "broken_plugin" in e.value.hint


PLUGIN = """
    from pathlib import Path

    from mlprod_nb.pipeline.serializers import Serializer


    class Celsius(float):
        pass


    def dump(value, path):
        Path(path).write_text(repr(float(value)))


    def load(path):
        return Celsius(Path(path).read_text())


    SERIALIZER = Serializer("celsius", ".celsius", lambda v: type(v) is Celsius, dump, load)


    def executor(setting, capacity):
        raise NotImplementedError
"""


def test_installed_serializers_and_executors_plug_in(tmp_path: Path) -> None:
    """A package declaring entry points is used by save/load and named by ``run --help``."""
    install(
        tmp_path,
        "thermo",
        """
        [mlprod_nb.serializers]
        celsius = thermo:SERIALIZER
        [mlprod_nb.executors]
        thermo-cluster = thermo:executor
        """,
        PLUGIN,
    )
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        from mlprod_nb.pipeline import artifacts
        import thermo

        print(artifacts.SERIALIZERS.names())
        [saved] = artifacts.save({str(tmp_path / "out")!r}, {{"t": thermo.Celsius(21.5)}}, step="s")
        back = artifacts.load({{"t": saved["path"]}}, "t", step="s2")
        print(saved["serializer"], type(back).__name__, back)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    names, used = done.stdout.splitlines()
    assert names == "['parquet', 'parquet-series', 'npy', 'json', 'celsius', 'pickle']"
    assert used == "celsius Celsius 21.5"

    cli = [sys.executable, "-m", "mlprod_nb.cli", "run", "--help"]
    env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin", "COLUMNS": "200"}
    shown = subprocess.run(cli, capture_output=True, text=True, env=env)
    assert shown.returncode == 0, shown.stderr
    assert "what runs the steps: local, dask, thermo-cluster" in shown.stdout
