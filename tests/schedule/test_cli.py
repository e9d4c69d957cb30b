"""``mlprod-nb schedule ...`` and ``mlprod-nb scheduler``: what a user types and reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlprod_nb import schedule
from mlprod_nb.cli import main


def test_add_list_pause_history_remove(
    pipeline: Path, store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = ["--home", str(store)]
    assert main(["schedule", "add", str(pipeline), "--cron", "0 3 * * *", "--tz",
                 "Europe/Paris", "-p", "n", "4", "--name", "nightly", *home]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "nightly): cron 0 3 * * * (Europe/Paris)" in out
    assert "next fire: " in out
    assert "T03:00+01:00" in out
    assert main(["schedule", "list", "--json", *home]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert (listed["name"], listed["params"], listed["paused"]) == ("nightly", {"n": 4}, False)
    assert listed["next_fire"] is not None
    assert main(["schedule", "pause", listed["id"], *home]) == 0
    assert schedule.schedules(store)[0].schedule.paused
    assert main(["schedule", "list", *home]) == 0
    assert "nightly" in capsys.readouterr().out
    assert main(["schedule", "history", listed["id"], "--json", *home]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["schedule", "remove", listed["id"], *home]) == 0
    assert schedule.schedules(store) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cron", "0 3 * *"], "invalid cron expression '0 3 * *'"),
        (["--cron", "0 3 * * *", "--tz", "Nowhere/City"], "unknown time zone 'Nowhere/City'"),
        (["--cron", "0 3 * * *", "-p", "n", "lots"], "'n'"),
        ([], "has no trigger"),
    ],
)
def test_bad_input_one_message_nothing_stored(
    pipeline: Path, store: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code = main(["schedule", "add", str(pipeline), *args, "--home", str(store)])
    err = capsys.readouterr().err
    assert code != 0
    assert err.startswith("mlprod-nb schedule: error: ")
    assert message in err
    assert "hint:" in err
    assert schedule.schedules(store) == []


def test_unknown_pipeline_and_schedule(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = ["--home", str(tmp_path / ".mlprod")]
    assert main(["schedule", "add", str(tmp_path), "--cron", "0 3 * * *", *home]) != 0
    assert "cannot schedule" in capsys.readouterr().err
    assert main(["schedule", "pause", "s-000000", *home]) != 0
    assert "no schedule s-000000" in capsys.readouterr().err


def test_scheduler_once_and_systemd_unit(
    pipeline: Path, store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scheduler", "--print-systemd-unit", "--home", str(store)]) == 0
    unit = capsys.readouterr().out
    assert f"Environment=MLPROD_NB_HOME={store}" in unit
    assert "scheduler --interval 10" in unit
    assert "[Install]" in unit
    assert main(["scheduler", "--once", "--home", str(store)]) == 0  # nothing due: quiet
    assert capsys.readouterr().out == ""


def test_schedules_outlive_the_process_that_made_them(pipeline: Path, store: Path) -> None:
    """A schedule added here is listed, with its next fire, by a new process (a restart)."""
    import subprocess
    import sys

    made = schedule.add(store, pipeline, cron="30 6 * * 1-5", tz="UTC", name="weekdays")
    listed = subprocess.run(
        [sys.executable, "-m", "mlprod_nb.cli", "schedule", "list", "--json", "--home", str(store)],
        capture_output=True,
        text=True,
        check=True,
    )
    (again,) = json.loads(listed.stdout)
    assert (again["id"], again["name"], again["cron"]) == (made.id, "weekdays", "30 6 * * 1-5")
    assert again["next_fire"] > made.created
