"""Bad inputs: a table of malformed notebooks, tags, parameters, paths and values crossing steps.

Each case goes through the real CLI entry point (``mlprod_nb.cli.main``) and must give one
readable message: the expected exit code, the thing named (file, cell, step or parameter),
a hint of what to do, no traceback, and nothing written (no output folder, no run folder).
Only the two values-crossing cases that export cannot see statically run a pipeline.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mlprod_nb.cli import main
from mlprod_nb.pipeline.export import export

PY = {"name": "python3", "display_name": "Python 3", "language": "python"}
LONG = "n" * 256  # one byte over NAME_MAX


def cell(source: Any, tags: Any = None, *, cell_id: Any = None, **extra: Any) -> dict[str, Any]:
    meta: Any = {} if tags is None else {"tags": tags}
    data: dict[str, Any] = {
        "cell_type": "code",
        "id": cell_id,
        "metadata": meta,
        "execution_count": None,
        "outputs": [],
        "source": source,
    }
    data.update(extra)
    return data


def nb(*cells: Any, metadata: Any = None, nbformat: Any = 4) -> dict[str, Any]:
    numbered = []
    for index, item in enumerate(cells):
        if isinstance(item, dict) and item.get("id", "") is None:
            item = {**item, "id": f"c{index}"}
        numbered.append(item)
    meta = {"kernelspec": PY} if metadata is None else metadata
    return {"cells": numbered, "metadata": meta, "nbformat": nbformat, "nbformat_minor": 5}


def step(name: str, source: str) -> dict[str, Any]:
    return cell(source, [f"step:{name}"])


VALID = nb(cell("n = 3\nflag = True\nrate = 0.5", ["parameters"]), step("a", "x = n * rate"))
NO_FILE = object()  # write no notebook


@dataclass(frozen=True)
class Case:
    id: str
    notebook: Any  # JSON written to {nb}; bytes written as they are; NO_FILE for none
    args: tuple[str, ...]  # {nb}, {tmp}, {pipeline} are filled in
    code: int
    words: tuple[str, ...]  # all must appear in the message ({nb}, {tmp} filled in)
    setup: Callable[[Path], None] | None = None
    marks: tuple[Any, ...] = field(default=())


EXPORT = ("export", "{nb}")


def _file_at(name: str, text: str = "x") -> Callable[[Path], None]:
    def make(tmp: Path) -> None:
        (tmp / name).write_text(text)

    return make


def _foreign_folder(tmp: Path) -> None:
    (tmp / "mine").mkdir()
    (tmp / "mine" / "pipeline.json").write_text("{}")
    (tmp / "mine" / "data.csv").write_text("1,2\n")


def _exported(tmp: Path) -> None:
    export(tmp / "nb.ipynb", use_tracer=False)


def _exported_with(name: str, text: str) -> Callable[[Path], None]:
    def make(tmp: Path) -> None:
        _exported(tmp)
        if name.endswith("/"):
            (tmp / name).mkdir()
        else:
            (tmp / name).write_text(text)

    return make


RUN = ("run", "{pipeline}")

CASES = [
    # -- the notebook file ---------------------------------------------------------------
    Case("invalid-json", b'{"cells": [', EXPORT, 2, ("malformed notebook JSON", "{nb}")),
    Case("empty-file", b"", EXPORT, 2, ("malformed notebook JSON", "{nb}")),
    Case("not-utf8", b"\xff\xfe\x00{", EXPORT, 2, ("malformed notebook JSON", "{nb}")),
    Case("top-level-list", [1, 2], EXPORT, 2, ("no 'cells' list", "{nb}")),
    Case("no-cells", {"metadata": {}, "nbformat": 4}, EXPORT, 2, ("no 'cells' list",)),
    Case(
        "nbformat-string",
        nb(step("a", "x = 1"), nbformat="4"),
        EXPORT,
        2,
        ("nbformat is '4', not an integer", '"nbformat": 4'),
    ),
    Case("nbformat-float", nb(step("a", "x = 1"), nbformat=4.5), EXPORT, 2, ("not an integer",)),
    Case("nbformat-3", nb(step("a", "x = 1"), nbformat=3), EXPORT, 2, ("nbformat 3 is too old",)),
    Case("metadata-list", nb(step("a", "x = 1"), metadata=[]), EXPORT, 2, ("metadata is a list",)),
    Case(
        "kernelspec-string",
        nb(step("a", "x = 1"), metadata={"kernelspec": "python3"}),
        EXPORT,
        2,
        ("metadata.kernelspec is a string",),
    ),
    Case(
        "kernel-language-r",
        nb(step("a", "x <- 1"), metadata={"kernelspec": {"name": "ir", "language": "R"}}),
        EXPORT,
        2,
        ("kernel language is 'R'", "not Python", "{nb}"),
    ),
    Case(
        "language-info-julia",
        nb(step("a", "x = 1"), metadata={"language_info": {"name": "julia"}}),
        EXPORT,
        2,
        ("'julia'", "not Python"),
    ),
    Case(
        "no-code-cell",
        nb({"cell_type": "markdown", "metadata": {}, "source": "# t"}),
        EXPORT,
        2,
        ("no code cell",),
    ),
    # -- cells -----------------------------------------------------------------------------
    Case(
        "cell-a-string",
        nb(step("a", "x = 1"), "x = 2"),
        EXPORT,
        2,
        ("cell 1", "the cell is a string, not an object"),
    ),
    Case("cell-null", nb(None), EXPORT, 2, ("cell 0", "null, not an object")),
    Case(
        "cell-metadata-list",
        nb(cell("x = 1", cell_id="k1", metadata=[])),
        EXPORT,
        2,
        ("cell 0 (id 'k1')", "metadata is a list, not an object"),
    ),
    Case(
        "cell-metadata-string",
        nb(cell("x = 1", cell_id="k2", metadata="tags")),
        EXPORT,
        2,
        ("cell 0", "k2", "metadata is a string"),
    ),
    Case(
        "tags-a-string",
        nb(step("a", "x = 1"), cell("y = x", "step:two", cell_id="k3")),
        EXPORT,
        2,
        ("cell 1 (id 'k3')", "tags are a string, not a list of strings", '["step:'),
    ),
    Case(
        "tags-with-int",
        nb(cell("x = 1", ["step:a", 7])),
        EXPORT,
        2,
        ("cell 0", "not a list of strings"),
    ),
    Case(
        "source-int",
        nb(cell(42, ["step:a"])),
        EXPORT,
        2,
        ("cell 0", "source is a int, not a string or list of strings"),
    ),
    Case(
        "source-list-with-null",
        nb(cell(["x = 1\n", None], ["step:a"])),
        EXPORT,
        2,
        ("cell 0", "source is a list"),
    ),
    Case(
        "cell-type-missing",
        nb({"id": "k4", "metadata": {}, "source": "x = 1"}),
        EXPORT,
        2,
        ("cell 0 (id 'k4')", "cell_type None"),
    ),
    Case(
        "cell-id-int",
        nb(cell("x = 1", ["step:a"], cell_id=5)),
        EXPORT,
        2,
        ("cell 0", "its id is a int"),
    ),
    # -- tags ------------------------------------------------------------------------------
    Case(
        "tag-typo",
        nb(cell("x = 1", ["setp:train"], cell_id="k5")),
        EXPORT,
        2,
        ("unknown tag 'setp:train'", "k5", "did you mean step:train"),
    ),
    Case(
        "tag-bare-step",
        nb(cell("x = 1", ["step"])),
        EXPORT,
        2,
        ("unknown tag 'step'", "step:<name>"),
    ),
    Case(
        "tag-bare-after",
        nb(step("a", "x = 1"), cell("y = x", ["after"])),
        EXPORT,
        2,
        ("unknown tag 'after'", "after:<name>"),
    ),
    Case(
        "tag-parameter-singular",
        nb(cell("n = 1", ["parameter"]), step("a", "x = n")),
        EXPORT,
        2,
        ("unknown tag 'parameter'", "did you mean parameters"),
    ),
    Case(
        "step-name-invalid",
        nb(cell("x = 1", ["step:Bad Name"])),
        EXPORT,
        2,
        ("invalid step name 'Bad Name'", "c0"),
    ),
    Case("step-name-empty", nb(cell("x = 1", ["step:"])), EXPORT, 2, ("invalid step name ''",)),
    Case(
        "step-duplicate",
        nb(step("a", "x = 1"), step("a", "y = 2")),
        EXPORT,
        2,
        ("duplicate step name 'a'", "c1"),
    ),
    Case(
        "after-unknown-step",
        nb(cell("x = 1", ["step:a", "after:nope"])),
        EXPORT,
        2,
        ("after:nope names an unknown step", "steps are: a"),
    ),
    Case(
        "setup-and-step",
        nb(cell("import os", ["setup", "step:a"])),
        EXPORT,
        2,
        ("cannot carry both", "c0"),
    ),
    Case(
        "cycle",
        nb(cell("x = 1", ["step:a", "after:b"]), step("b", "y = x")),
        EXPORT,
        2,
        ("cycle", "a -> b"),
    ),
    # -- the parameters cell and code --------------------------------------------------------
    Case(
        "parameters-syntax-error",
        nb(cell("n = (", ["parameters"]), step("a", "x = 1")),
        EXPORT,
        2,
        ("parameters cell does not parse", "c0", "fix the syntax error"),
    ),
    Case(
        "parameters-non-literal",
        nb(cell("n = f()", ["parameters"]), step("a", "x = n")),
        EXPORT,
        2,
        ("non-literal", "'n'", "c0"),
    ),
    Case(
        "parameters-not-assignment",
        nb(cell("print(1)", ["parameters"]), step("a", "x = 1")),
        EXPORT,
        2,
        ("not a simple assignment", "c0"),
    ),
    Case("step-syntax-error", nb(step("a", "x = (")), EXPORT, 2, ("does not parse", "c0")),
    Case(
        "undefined-name",
        nb(step("a", "x = 1"), step("b", "y = missing")),
        EXPORT,
        2,
        ("'missing'", "step 'b'", "c1"),
    ),
    # -- paths -------------------------------------------------------------------------------
    Case(
        "notebook-is-a-directory",
        NO_FILE,
        ("export", "{tmp}"),
        2,
        ("is a directory, not a notebook file", "{tmp}", ".ipynb"),
    ),
    Case("notebook-missing", NO_FILE, EXPORT, 2, ("notebook not found", "{nb}")),
    Case(
        "notebook-name-too-long",
        NO_FILE,
        ("export", "{tmp}/" + LONG + ".ipynb"),
        2,
        ("longer than 255 bytes",),
    ),
    Case(
        "output-is-a-file",
        VALID,
        (*EXPORT, "-o", "{tmp}/out"),
        2,
        ("output file exists", "{tmp}/out", "--force"),
        setup=_file_at("out"),
    ),
    Case(
        "output-parent-is-a-file",
        VALID,
        (*EXPORT, "-o", "{tmp}/f/out"),
        2,
        ("parent of the output folder is a file", "-o"),
        setup=_file_at("f"),
    ),
    Case(
        "output-name-too-long",
        VALID,
        (*EXPORT, "-o", "{tmp}/" + LONG),
        2,
        ("longer than 255 bytes", "-o"),
    ),
    Case(
        "output-folder-not-exported",
        VALID,
        (*EXPORT, "-o", "{tmp}/mine"),
        2,
        ("did not write", "{tmp}/mine", "--force"),
        setup=_foreign_folder,
    ),
    Case(
        "output-exported-file-edited",
        VALID,
        EXPORT,
        2,
        ("steps/a.ipynb was changed", "--force"),
        setup=_exported_with("nb.pipeline/steps/a.ipynb", "edited"),
    ),
    Case(
        "trace-a-directory",
        NO_FILE,
        ("trace", "{tmp}"),
        2,
        ("is a directory, not a notebook file", "{tmp}"),
    ),
    Case("trace-missing-notebook", NO_FILE, ("trace", "{nb}"), 2, ("notebook not found", "{nb}")),
    Case(
        "run-name-too-long",
        NO_FILE,
        ("run", "{tmp}/" + LONG),
        2,
        ("File name too long", "pipeline folder"),
    ),
    # -- values crossing steps, found at export ---------------------------------------------
    Case(
        "function-reads-an-undefined-global",
        nb(step("a", "def fit_model(q):\n    return mod.fit(q)"), step("b", "y = fit_model(1)")),
        EXPORT,
        2,
        ("'mod'", "function 'fit_model'", "step 'b'", "earlier step"),
    ),
    Case(
        "crossing-generator",
        nb(step("a", "g = (i for i in [1])"), step("b", "t = list(g)")),
        EXPORT,
        2,
        ("'g'", "generator"),
    ),
    Case(
        "crossing-open-file",
        nb(step("a", "fh = open('x')"), step("b", "t = fh.read()")),
        EXPORT,
        2,
        ("'fh'", "open file"),
    ),
    Case(
        "setup-reads-a-step-name",
        nb(step("a", "IMAGES = 'img'"), cell("where = IMAGES + '/x'", ["setup"])),
        EXPORT,
        2,
        ("setup cell", "'IMAGES'", "setup cells run first"),
    ),
    # -- run parameters (checked before any kernel starts) -----------------------------------
    Case(
        "param-wrong-int",
        VALID,
        (*RUN, "-p", "n", "abc"),
        2,
        ("parameter 'n' expects int", "'abc'"),
        setup=_exported,
    ),
    Case(
        "param-wrong-bool",
        VALID,
        (*RUN, "-p", "flag", "maybe"),
        2,
        ("parameter 'flag' expects bool",),
        setup=_exported,
    ),
    Case(
        "param-wrong-float",
        VALID,
        (*RUN, "-p", "rate", "fast"),
        2,
        ("parameter 'rate' expects float",),
        setup=_exported,
    ),
    Case(
        "param-unknown",
        VALID,
        (*RUN, "-p", "nn", "1"),
        2,
        ("unknown parameter 'nn'", "flag, n, rate"),
        setup=_exported,
    ),
    Case(
        "params-file-missing",
        VALID,
        (*RUN, "-f", "{tmp}/none.yaml"),
        2,
        ("parameters file not found", "{tmp}/none.yaml", "-f"),
        setup=_exported,
    ),
    Case(
        "params-file-bad-yaml",
        VALID,
        (*RUN, "-f", "{tmp}/p.yaml"),
        2,
        ("not valid YAML at line", "{tmp}/p.yaml"),
        setup=_exported_with("p.yaml", "n: [1,\nrate: 2\n"),
    ),
    Case(
        "params-file-not-a-mapping",
        VALID,
        (*RUN, "-f", "{tmp}/p.yaml"),
        2,
        ("must be a mapping", "{tmp}/p.yaml"),
        setup=_exported_with("p.yaml", "- 1\n- 2\n"),
    ),
    Case(
        "params-file-a-directory",
        VALID,
        (*RUN, "-f", "{tmp}"),
        2,
        ("parameters file is a directory",),
        setup=_exported,
    ),
    Case(
        "params-file-wrong-type",
        VALID,
        (*RUN, "-f", "{tmp}/p.yaml"),
        2,
        ("parameter 'n' expects int",),
        setup=_exported_with("p.yaml", "n: three\n"),
    ),
    Case(
        "params-file-unknown",
        VALID,
        (*RUN, "-f", "{tmp}/p.yaml"),
        2,
        ("unknown parameter 'zz'",),
        setup=_exported_with("p.yaml", "zz: 1\n"),
    ),
    Case("run-no-pipeline", VALID, ("run", "{tmp}"), 3, ("pipeline.json is missing",)),
    Case(
        "run-broken-manifest",
        VALID,
        RUN,
        2,
        ("cannot read pipeline.json", "export"),
        setup=_exported_with("nb.pipeline/pipeline.json", "{broken"),
    ),
    # -- values crossing steps that only a run can see -----------------------------------------
    Case(
        "run-crossing-generator",
        nb(
            cell("def rows():\n    yield 1", ["setup"]),
            step("a", "g = rows()"),
            step("b", "t = list(g)"),
        ),
        RUN,
        1,
        ("'g'", "generator", "step a", "--resume"),
        setup=_exported,
    ),
    Case(
        "run-crossing-module",
        nb(
            cell("import importlib", ["setup"]),
            step("a", "m = importlib.import_module('json')"),
            step("b", "s = m.dumps(1)"),
        ),
        RUN,
        1,
        ("'m'", "module", "step a", "--resume"),
        setup=_exported,
    ),
]


def _fill(text: str, tmp: Path) -> str:
    return text.format(nb=tmp / "nb.ipynb", tmp=tmp, pipeline=tmp / "nb.pipeline")


def _snapshot(tmp: Path) -> set[str]:
    """Every path under ``tmp``, except the store's own files (a run's folder counts)."""
    found = set()
    for path in tmp.rglob("*"):
        relative = path.relative_to(tmp).as_posix()
        if relative.startswith(".mlprod") and not relative.startswith(".mlprod/runs/"):
            continue
        found.add(relative)
    return found


def _prepare(case: Case, tmp: Path) -> set[str]:
    """Write the case's notebook and files; what is there before the command runs."""
    target = tmp / "nb.ipynb"
    if isinstance(case.notebook, bytes):
        target.write_bytes(case.notebook)
    elif case.notebook is not NO_FILE:
        target.write_text(json.dumps(case.notebook))
    if case.setup is not None:
        case.setup(tmp)
    return _snapshot(tmp)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in CASES])
def test_bad_input(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = _prepare(case, tmp_path)
    capsys.readouterr()

    code = main([_fill(a, tmp_path) for a in case.args])

    out, err = capsys.readouterr()
    assert code == case.code, err
    assert "Traceback" not in out + err
    message = err.strip()
    assert message.startswith(f"mlprod-nb {case.args[0]}: error: "), message
    for word in case.words:
        assert _fill(word, tmp_path) in message, message
    assert "\n  hint: " in message, message  # says what to do
    written = _snapshot(tmp_path) - before
    if case.args[0] == "run" and case.code == 1:  # a run that started records its failure
        written = {w for w in written if not w.startswith(".mlprod/runs")}
    assert not written, f"something was written: {sorted(written)}"


@pytest.mark.parametrize("name", ["invalid-json", "tags-a-string", "output-folder-not-exported"])
def test_bad_input_in_a_process(name: str, tmp_path: Path) -> None:
    """The installed entry point, as a user runs it: same exit code, stderr only, no traceback."""
    case = next(c for c in CASES if c.id == name)
    before = _prepare(case, tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "mlprod_nb.cli", *(_fill(a, tmp_path) for a in case.args)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == case.code, done.stderr
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert "\n  hint: " in done.stderr
    assert _snapshot(tmp_path) == before


def test_other_tools_tags_are_left_alone(tmp_path: Path) -> None:
    tags = ["hide-input", "remove-cell", "injected-parameters", "raises-exception", "thebe-init"]
    notebook = nb(cell("x = 1", ["step:a", *tags]), step("b", "y = x"))
    (tmp_path / "nb.ipynb").write_text(json.dumps(notebook))
    result = export(tmp_path / "nb.ipynb", use_tracer=False)
    assert [s.name for s in result.manifest.steps] == ["a", "b"]


def test_the_corpus_is_big_enough() -> None:
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)
