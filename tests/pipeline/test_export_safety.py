"""Export never deletes what it did not write: the marker, --force, crashes, a full disk."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlprod_nb.cli import main
from mlprod_nb.errors import OutputPathError, OutputWriteError
from mlprod_nb.pipeline import folder as folder_module
from mlprod_nb.pipeline.export import export
from mlprod_nb.pipeline.folder import MARKER

from .conftest import write_notebook


def _notebook(tmp_path: Path, steps: tuple[str, ...] = ("a", "b")) -> Path:
    cells = [(f"v_{s} = {i}", [f"step:{s}"]) for i, s in enumerate(steps)]
    return write_notebook(tmp_path / "nb.ipynb", cells)


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_export_writes_a_marker_listing_its_files(tmp_path: Path) -> None:
    folder = export(_notebook(tmp_path), use_tracer=False).folder
    assert folder is not None
    marker = json.loads((folder / MARKER).read_text())
    assert marker["tool"] == "mlprod-nb"
    assert marker["version"]
    assert sorted(marker["files"]) == ["pipeline.json", "steps/a.ipynb", "steps/b.ipynb"]


def test_reexport_keeps_the_users_files_in_the_pipeline_folder(tmp_path: Path) -> None:
    nb = _notebook(tmp_path)
    folder = export(nb, use_tracer=False).folder
    assert folder is not None
    (folder / "params.yaml").write_text("n: 5\n")
    (folder / "notes").mkdir()
    (folder / "notes" / "todo.md").write_text("precious")
    (folder / "steps" / "mine.txt").write_text("mine too")
    os.symlink("params.yaml", folder / "link.yaml")

    _notebook(tmp_path, ("a",))  # step b is gone: its notebook goes, the user's files stay
    assert main(["export", str(nb)]) == 0
    tree = _tree(folder)
    assert tree["params.yaml"] == b"n: 5\n"
    assert tree["notes/todo.md"] == b"precious"
    assert tree["steps/mine.txt"] == b"mine too"
    assert os.readlink(folder / "link.yaml") == "params.yaml"
    assert "steps/b.ipynb" not in tree
    assert "steps/a.ipynb" in tree
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nb.ipynb", "nb.pipeline"]


def test_existing_folder_not_written_by_export_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nb = _notebook(tmp_path)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "pipeline.json").write_text("{}")  # a pipeline.json alone does not make it ours
    (mine / "data.csv").write_text("1,2\n")
    assert main(["export", str(nb), "-o", str(mine)]) == 2
    err = capsys.readouterr().err
    assert str(mine) in err
    assert "-o" in err
    assert "--force" in err
    assert "Traceback" not in err
    assert _tree(mine) == {"pipeline.json": b"{}", "data.csv": b"1,2\n"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "nb.ipynb"]


def test_an_existing_file_at_the_output_path_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nb = _notebook(tmp_path)
    out = tmp_path / "out"
    out.write_text("not a folder")
    assert main(["export", str(nb), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "output file exists" in err
    assert str(out) in err
    assert out.read_text() == "not a folder"


def test_an_edited_exported_file_is_not_overwritten(tmp_path: Path) -> None:
    nb = _notebook(tmp_path)
    folder = export(nb, use_tracer=False).folder
    assert folder is not None
    (folder / "steps" / "a.ipynb").write_text("hand-edited")
    with pytest.raises(OutputPathError, match=r"steps/a\.ipynb was changed"):
        export(nb, use_tracer=False)
    assert (folder / "steps" / "a.ipynb").read_text() == "hand-edited"


def test_a_user_file_where_export_would_write_is_not_overwritten(tmp_path: Path) -> None:
    nb = _notebook(tmp_path, ("a",))
    folder = export(nb, use_tracer=False).folder
    assert folder is not None
    (folder / "steps" / "b.ipynb").write_text("mine")
    _notebook(tmp_path, ("a", "b"))
    with pytest.raises(OutputPathError, match=r"steps/b\.ipynb is not a file export wrote"):
        export(nb, use_tracer=False)
    assert (folder / "steps" / "b.ipynb").read_text() == "mine"


def test_force_moves_the_old_folder_aside(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nb = _notebook(tmp_path)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "data.csv").write_text("1,2\n")
    assert main(["export", str(nb), "-o", str(mine), "--force"]) == 0
    out = capsys.readouterr().out
    backups = [p for p in tmp_path.iterdir() if p.name.startswith("mine.backup-")]
    assert len(backups) == 1
    assert str(backups[0]) in out
    assert _tree(backups[0]) == {"data.csv": b"1,2\n"}
    assert (mine / "pipeline.json").is_file()
    assert "data.csv" not in _tree(mine)


def test_a_pipeline_from_before_the_marker_is_replaced(tmp_path: Path) -> None:
    nb = _notebook(tmp_path)
    folder = export(nb, use_tracer=False).folder
    assert folder is not None
    (folder / MARKER).unlink()  # as an older mlprod-nb wrote it: nothing else in it
    assert export(nb, use_tracer=False).folder == folder
    assert (folder / MARKER).is_file()


def test_an_empty_folder_is_used(tmp_path: Path) -> None:
    nb = _notebook(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert export(nb, empty, use_tracer=False).folder == empty
    assert (empty / "pipeline.json").is_file()


def test_a_failure_while_writing_leaves_the_old_folder_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nb = _notebook(tmp_path)
    folder = export(nb, use_tracer=False).folder
    assert folder is not None
    (folder / "params.yaml").write_text("n: 5\n")
    before = _tree(folder)
    _notebook(tmp_path, ("a", "b", "c"))
    real = folder_module._write_file
    calls = []

    def fail_third(path: Path, data: bytes) -> None:
        calls.append(path)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, data)

    monkeypatch.setattr(folder_module, "_write_file", fail_third)
    with pytest.raises(OutputWriteError, match="no space left"):
        export(nb, use_tracer=False)
    assert _tree(folder) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nb.ipynb", "nb.pipeline"]


_KILL_SCRIPT = """
import os, sys
from mlprod_nb.pipeline import folder
from mlprod_nb.pipeline.export import export
point = sys.argv[2]
real = getattr(folder, point)
def die(*args, **kwargs):
    if point == "_exchange":
        real(*args, **kwargs)  # the swap happened; die before the old folder is removed
    os._exit(9)
setattr(folder, point, die)
export(sys.argv[1], use_tracer=False)
"""


@pytest.mark.parametrize("point", ["_write_file", "_mirror", "_exchange"])
def test_killed_mid_export_leaves_a_whole_folder(tmp_path: Path, point: str) -> None:
    nb = _notebook(tmp_path)
    folder = export(nb, use_tracer=False).folder
    assert folder is not None
    (folder / "params.yaml").write_text("n: 5\n")
    old = _tree(folder)
    _notebook(tmp_path, ("a", "b", "c"))
    done = subprocess.run(
        [sys.executable, "-c", _KILL_SCRIPT, str(nb), point], capture_output=True, check=False
    )
    assert done.returncode == 9, done.stderr
    tree = _tree(folder)
    assert tree["params.yaml"] == b"n: 5\n"
    if point == "_exchange":
        assert "steps/c.ipynb" in tree  # the new folder, whole
        marker = json.loads(tree[MARKER])
        assert set(marker["files"]) <= set(tree)
    else:
        assert tree == old
    # the next export sweeps the dead process's temp folder and succeeds
    assert export(nb, use_tracer=False).folder == folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nb.ipynb", "nb.pipeline"]
    assert _tree(folder)["params.yaml"] == b"n: 5\n"


def _mount_tmpfs(where: Path) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


def test_a_full_disk_is_named_and_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real 1 MiB tmpfs, filled up (needs root to mount; skipped otherwise)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if not _mount_tmpfs(disk):
        pytest.skip("cannot mount a tmpfs here (not root)")
    try:
        cells = [(f"v{i} = {i}  # {'x' * 4000}", [f"step:s{i}"]) for i in range(40)]
        nb = write_notebook(tmp_path / "nb.ipynb", cells)
        filler = disk / "filler"
        with filler.open("wb") as handle:
            handle.write(b"\0" * (1024 * 1024 - 64 * 1024))
        out = disk / "nb.pipeline"
        assert main(["export", str(nb), "-o", str(out)]) == 1
        err = capsys.readouterr().err
        assert "no space left on the device" in err
        assert str(out) in err
        assert "Traceback" not in err
        assert sorted(p.name for p in disk.iterdir()) == ["filler"]
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_without_an_atomic_exchange_the_users_files_still_survive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nb = _notebook(tmp_path)
    folder = export(nb, use_tracer=False).folder
    assert folder is not None
    (folder / "params.yaml").write_text("n: 5\n")
    monkeypatch.setattr(folder_module, "_exchange", lambda a, b: False)  # e.g. not Linux
    _notebook(tmp_path, ("a", "c"))
    export(nb, use_tracer=False)
    tree = _tree(folder)
    assert tree["params.yaml"] == b"n: 5\n"
    assert sorted(p for p in tree if p.startswith("steps/")) == ["steps/a.ipynb", "steps/c.ipynb"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nb.ipynb", "nb.pipeline"]


def test_force_moves_a_file_at_the_output_path_aside(tmp_path: Path) -> None:
    nb = _notebook(tmp_path)
    out = tmp_path / "out"
    out.write_text("a file")
    result = export(nb, out, use_tracer=False, force=True)
    assert result.backup is not None
    assert result.backup.read_text() == "a file"
    assert (out / "pipeline.json").is_file()


def test_a_tampered_marker_cannot_reach_outside_the_folder(tmp_path: Path) -> None:
    nb = _notebook(tmp_path)
    folder = export(nb, use_tracer=False).folder
    assert folder is not None
    outside = tmp_path / "outside.txt"
    outside.write_text("keep")
    marker = json.loads((folder / MARKER).read_text())
    marker["files"]["../outside.txt"] = "0" * 64
    (folder / MARKER).write_text(json.dumps(marker))
    export(nb, use_tracer=False)
    assert outside.read_text() == "keep"


def test_the_folder_keeps_its_mode_on_reexport(tmp_path: Path) -> None:
    nb = _notebook(tmp_path)
    folder = export(nb, use_tracer=False).folder
    assert folder is not None
    assert folder.stat().st_mode & 0o777 != 0o700  # the umask's mode, not mkdtemp's
    os.chmod(folder, 0o750)
    export(nb, use_tracer=False)
    assert folder.stat().st_mode & 0o777 == 0o750


_KILL_BETWEEN_RENAMES = """
import os, sys
from mlprod_nb.pipeline import folder
from mlprod_nb.pipeline.export import export
folder._exchange = lambda a, b: False
real, calls = os.rename, []
def rename(a, b):
    calls.append(a)
    if len(calls) == 2:
        os._exit(9)  # the old folder is aside, the new one not yet in place
    real(a, b)
os.rename = rename
export(sys.argv[1], use_tracer=False)
"""


def test_killed_between_the_two_renames_the_next_export_puts_the_folder_back(
    tmp_path: Path,
) -> None:
    nb = _notebook(tmp_path)
    folder = export(nb, use_tracer=False).folder
    assert folder is not None
    (folder / "params.yaml").write_text("n: 5\n")
    done = subprocess.run(
        [sys.executable, "-c", _KILL_BETWEEN_RENAMES, str(nb)], capture_output=True, check=False
    )
    assert done.returncode == 9, done.stderr
    assert not folder.exists()
    assert export(nb, use_tracer=False).folder == folder
    assert _tree(folder)["params.yaml"] == b"n: 5\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nb.ipynb", "nb.pipeline"]
