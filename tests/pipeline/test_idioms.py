"""Idioms of real notebooks: the exported pipeline computes what "Run All" computes.

Each case is a notebook as a data scientist writes it (imports and helpers where they
are first needed, functions that read and change globals, IPython syntax, parameters
named in query strings, files read and rewritten). The expectation is the notebook's
own top-to-bottom run with papermill: a last cell writes the chosen names to
``result.json``, and the pipeline's run must write the same file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import papermill
import pytest

from mlprod_nb.pipeline.compiler import compile_notebook
from mlprod_nb.pipeline.export import export
from mlprod_nb.pipeline.runner import RunOptions, run

from .conftest import Cell, project, step, write_notebook

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Idiom:
    id: str
    cells: list[Cell]
    names: tuple[str, ...]  # written to result.json by a last step
    replayed: dict[str, set[str]] = field(default_factory=dict)  # step -> definitions replayed
    inputs: dict[str, set[str]] = field(default_factory=dict)  # step -> values loaded
    files: dict[str, str] = field(default_factory=dict)  # data files in the project


IDIOMS = [
    Idiom(
        "imports-anywhere",
        [
            step("load", "import json\nfrom collections import Counter\nimport os.path"),
            "rows = json.loads('[1, 2, 2, 3]')",
            step("count", "counts = Counter(rows)\nbase = os.path.basename('/a/b.txt')"),
            step("report", "top = json.dumps(counts.most_common(1))"),
        ],
        ("counts", "base", "top"),
        replayed={"count": {"Counter", "os"}, "report": {"json"}},
        inputs={"count": {"rows"}, "report": {"counts"}},
    ),
    Idiom(
        "from-package-import-submodule",
        [
            step("a", "from json import decoder\nraw = '{\"k\": 1}'"),
            step("b", "parsed = decoder.JSONDecoder().decode(raw)"),
        ],
        ("parsed",),
        replayed={"b": {"decoder"}},
    ),
    Idiom(
        "try-import",
        [
            step("a", "try:\n    import numpy as np\nexcept ImportError:\n    np = None"),
            step("b", "total = int(np.arange(4).sum()) if np is not None else 6"),
        ],
        ("total",),
        replayed={"b": {"np"}},
    ),
    Idiom(
        "helper-used-across-sections",
        [
            step("intro", "def double(v):\n    return v * 2\n\nfirst = double(2)"),
            step("later", "second = double(first) + double(10)"),
        ],
        ("first", "second"),
        replayed={"later": {"double"}},
        inputs={"later": {"first"}},
    ),
    Idiom(
        "instance-of-a-user-class-crosses",
        [
            step(
                "make", "class Box:\n    def __init__(self, v):\n        self.v = v\n\nbox = Box(7)"
            ),
            step("use", "value = box.v * 3"),
        ],
        ("value",),
        replayed={"use": {"Box"}},
        inputs={"use": {"box"}},
    ),
    Idiom(
        "instance-whose-method-reads-a-global-crosses",
        [
            step(
                "make",
                "THRESHOLD = 4\n\nclass Rule:\n    def passes(self, v):\n"
                "        return v > THRESHOLD\n\nrule = Rule()",
            ),
            step("use", "verdicts = [rule.passes(v) for v in (3, 5)]"),
        ],
        ("verdicts",),
        replayed={"use": {"Rule"}},
        inputs={"use": {"rule", "THRESHOLD"}},
    ),
    Idiom(
        "pickled-object-refers-to-a-user-function",
        [
            step(
                "build",
                "import functools\n\ndef column_ratio(a, b):\n    return a / b\n\n"
                "transformer = functools.partial(column_ratio, 9)",
            ),
            step("apply", "ratio = transformer(3)"),
        ],
        ("ratio",),
        replayed={"apply": {"column_ratio"}},
    ),
    Idiom(
        "setup-helper-reads-a-step-name",
        [
            (
                "import os\n\ndef image_path(name):\n    return os.path.join(IMAGES_PATH, name)",
                ["setup"],
            ),
            step("intro", "IMAGES_PATH = 'images'"),
            step("plots", "where = image_path('fig.png')"),
        ],
        ("where",),
        inputs={"plots": {"IMAGES_PATH"}},
    ),
    Idiom(
        "function-body-reads-a-global-when-called",
        [
            step("model", "mod = {'scale': 3}\n\ndef fit_model(q):\n    return mod['scale'] * q"),
            step("fit", "fitted = fit_model(q=5)"),
        ],
        ("fitted",),
        replayed={"fit": {"fit_model"}},
        inputs={"fit": {"mod"}},
    ),
    Idiom(
        "called-function-changes-a-global-frame",
        [
            step("data", "df = {'a': 1}\n\ndef add_feature():\n    df['b'] = df['a'] + 1"),
            step("features", "add_feature()"),
            step("report", "keys = sorted(df)\nb = df['b']"),
        ],
        ("keys", "b"),
        inputs={"features": {"df"}, "report": {"df"}},
    ),
    Idiom(
        "global-counter",
        [
            step(
                "counter",
                "counter = 0\n\ndef bump():\n    global counter\n    counter += 1",
            ),
            step("work", "bump()\nbump()"),
            step("report", "final_count = counter"),
        ],
        ("final_count",),
        inputs={"work": {"counter"}, "report": {"counter"}},
    ),
    Idiom(
        "ipython-syntax-that-binds",
        [
            step("shell", "listing = !echo alpha beta\n%time squared = 12 ** 2"),
            ("%%time\ncubed = squared * 12", []),
            step("use", "words = ' '.join(listing).split()\nbig = cubed + 1"),
        ],
        ("words", "big"),
        inputs={"use": {"listing", "cubed"}},
    ),
    Idiom(
        "parameters-in-query-and-format-strings",
        [
            ("year = 2020\nlabel = 'best'", ["parameters"]),
            step("data", "import pandas as pd\nframe = pd.DataFrame({'year': [2019, 2020, 2020]})"),
            step(
                "select",
                "picked = len(frame.query('year == @year'))\n"
                "title = '{label}-{year}'.format(**globals())\nnext_year = eval('year + 1')",
            ),
        ],
        ("picked", "title", "next_year"),
    ),
    Idiom(
        "file-read-then-rewritten-later",
        [
            step("read", "with open('data.txt') as fh:\n    original = fh.read()"),
            step("rewrite", "with open('data.txt', 'w') as fh:\n    fh.write('changed')"),
            step("after", "now = open('data.txt').read()"),
        ],
        ("original", "now"),
        files={"data.txt": "first"},
    ),
]


def _result_step(names: tuple[str, ...]) -> Cell:
    values = ", ".join(f"{n!r}: {n}" for n in names)
    return step(
        "zz-result",
        f"import json as _json\nwith open('result.json', 'w') as _fh:\n"
        f"    _json.dump({{{values}}}, _fh, default=repr, sort_keys=True)",
    )


@pytest.mark.parametrize("idiom", IDIOMS, ids=[i.id for i in IDIOMS])
def test_pipeline_computes_what_run_all_computes(idiom: Idiom, tmp_path: Path) -> None:
    base = project(tmp_path / "p")
    nb = write_notebook(base / "nb.ipynb", [*idiom.cells, _result_step(idiom.names)])

    for name, text in idiom.files.items():
        (base / name).write_text(text)
    papermill.execute_notebook(
        str(nb), str(tmp_path / "run-all.ipynb"), cwd=str(base), progress_bar=False
    )
    expected = json.loads((base / "result.json").read_text())
    (base / "result.json").unlink()

    for name, text in idiom.files.items():
        (base / name).write_text(text)
    result = export(nb, use_tracer=False)
    assert result.folder is not None
    manifest = result.manifest
    for name, wanted in idiom.inputs.items():
        assert {i.name for i in manifest.step(name).inputs} == wanted
    notebooks = compile_notebook(nb).notebooks
    for name, wanted in idiom.replayed.items():
        code = "\n".join(
            c["source"] for c in notebooks[name]["cells"] if c["id"] == "mlprod-definitions"
        )
        for definition in wanted:
            assert definition in code, f"{definition} not replayed in {name}"
    ran = run(result.folder, RunOptions(jobs=2))
    assert ran.status == "ok", ran.error
    assert json.loads((base / "result.json").read_text()) == expected


def test_file_hazards_order_steps(tmp_path: Path) -> None:
    cells = IDIOMS[-1].cells
    nb = write_notebook(tmp_path / "nb.ipynb", cells)
    edges = {(e.source, e.target): e.files for e in compile_notebook(nb).manifest.edges}
    assert edges == {
        ("read", "rewrite"): ("data.txt",),  # write after read
        ("rewrite", "after"): ("data.txt",),  # read after write (two readers: no edge)
    }


def test_two_writers_of_one_file_keep_their_order(tmp_path: Path) -> None:
    nb = write_notebook(
        tmp_path / "nb.ipynb",
        [
            step("a", "open('log.txt', 'w').write('a')"),
            step("b", "open('log.txt', 'w').write('b')"),
        ],
    )
    edges = {(e.source, e.target): e.files for e in compile_notebook(nb).manifest.edges}
    assert edges == {("a", "b"): ("log.txt",)}


def test_changing_a_module_in_place_is_a_warning(tmp_path: Path) -> None:
    nb = write_notebook(
        tmp_path / "nb.ipynb",
        [step("a", "import json\njson.encoder.FLOAT_REPR = repr"), step("b", "s = json.dumps(1)")],
    )
    warnings = compile_notebook(nb).manifest.warnings
    assert any("changes the module 'json'" in w and "setup cell" in w for w in warnings)


def test_setup_code_reading_a_step_name_is_an_export_error(tmp_path: Path) -> None:
    from mlprod_nb.errors import PipelineError

    nb = write_notebook(
        tmp_path / "nb.ipynb",
        [step("intro", "IMAGES_PATH = 'img'"), ("folder = IMAGES_PATH + '/x'", ["setup"])],
    )
    with pytest.raises(PipelineError) as caught:
        compile_notebook(nb)
    assert caught.value.cell_id == "c1"
    assert "IMAGES_PATH" in str(caught.value)


def test_a_global_read_by_a_called_function_but_never_defined_names_the_function(
    tmp_path: Path,
) -> None:
    from mlprod_nb.errors import PipelineError

    nb = write_notebook(
        tmp_path / "nb.ipynb",
        [step("a", "def fit_model(q):\n    return mod.fit(q)"), step("b", "r = fit_model(1)")],
    )
    with pytest.raises(PipelineError) as caught:
        compile_notebook(nb)
    message = str(caught.value)
    assert "'mod'" in message
    assert "function 'fit_model'" in message
    assert "step 'b'" in message
    assert caught.value.cell_id == "c1"


UNSENDABLE_AT_EXPORT = [
    ("generator", "g = (i for i in range(3))", "t = list(g)", "a generator"),
    ("open-file", "fh = open('x.txt', 'w')", "fh.write('1')", "an open file"),
    ("lock", "import threading\nguard = threading.Lock()", "guard.acquire()", "a lock"),
    ("from-import", "from threading import Lock\nguard = Lock()", "guard.release()", "a lock"),
    ("aliased-module", "import sqlite3 as db\ncon = db.connect(':memory:')", "con.close()", "conn"),
]


@pytest.mark.parametrize(("label", "made", "used", "what"), UNSENDABLE_AT_EXPORT)
def test_values_no_serializer_can_store_fail_at_export_naming_the_cell(
    label: str, made: str, used: str, what: str, tmp_path: Path
) -> None:
    from mlprod_nb.errors import SerializationError

    nb = write_notebook(tmp_path / "nb.ipynb", [step("make", made), step("use", used)])
    with pytest.raises(SerializationError) as caught:
        compile_notebook(nb)
    assert what in str(caught.value)
    assert caught.value.cell_id == "c0"
    assert "re-create" in str(caught.value)


def test_a_function_returning_a_plain_value_is_not_refused(tmp_path: Path) -> None:
    nb = write_notebook(
        tmp_path / "nb.ipynb",
        [step("make", "import threading\nn = threading.active_count()"), step("use", "m = n")],
    )
    assert {i.name for i in compile_notebook(nb).manifest.step("use").inputs} == {"n"}


RANDOM_STREAMS = [
    # (cells, steps warned about)
    (
        [
            ("import numpy as np\nnp.random.seed(0)", ["setup"]),
            step("a", "x = np.random.rand()"),
            step("b", "y = np.random.rand()"),
        ],
        {"b"},
    ),
    (
        [
            ("import numpy as np", ["setup"]),
            step("a", "np.random.seed(0)\nx = np.random.rand()"),
            step("b", "y = np.random.rand()"),
        ],
        {"b"},
    ),
    (
        [
            ("import random", ["setup"]),
            step("a", "random.seed(1)\nx = random.random()"),
            step("b", "random.seed(2)\ny = random.random()"),
        ],
        set(),
    ),
    (
        [
            ("import numpy as np", ["setup"]),
            step("a", "rng = np.random.default_rng(0)\nx = rng.random()"),
            step("b", "y = rng.random()"),
        ],
        set(),
    ),
    (
        [
            ("from numpy.random import seed, rand\nseed(3)", ["setup"]),
            step("a", "x = rand()"),
            step("b", "def draw():\n    return rand()\n\ny = draw()"),
        ],
        {"b"},
    ),
]


@pytest.mark.parametrize(("cells", "warned"), RANDOM_STREAMS, ids=range(len(RANDOM_STREAMS)))
def test_global_random_state_that_cannot_cross_steps_is_a_warning(
    cells: list[Cell], warned: set[str], tmp_path: Path
) -> None:
    nb = write_notebook(tmp_path / "nb.ipynb", cells)
    warnings = [w for w in compile_notebook(nb).manifest.warnings if "random" in w]
    assert {w.split("'")[1] for w in warnings} == warned
    assert all("differ from Run All" in w for w in warnings)
