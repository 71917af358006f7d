"""paretonet.records.run_folder: the one reader and writer of a search's files."""

from __future__ import annotations

import pytest

from paretonet.errors import ConfigError
from paretonet.records import Objective, Record
from paretonet.records.run_folder import RunFolder


def test_front_files_are_written_and_read_back_row_for_row(tmp_path):
    folder = RunFolder(tmp_path / "run")
    folder.create()
    recs = [Record(f"lenet:{k}", "digits", 0, (Objective("accuracy", 0.5 + k / 10, "fraction", "max"),)) for k in range(2)]
    folder.write_front(["trial", "model"], [[0, "models/a"], [1, ""]], recs)
    assert [r["trial"] for r in folder.front_rows()] == ["0", "1"]
    assert folder.front_records() == recs
    with pytest.raises(ConfigError, match="is not a finished search|has no run.json"):
        folder.check_finished()


def test_a_model_named_outside_the_folder_is_refused(tmp_path):
    folder = RunFolder(tmp_path / "run")
    assert folder.model("models/a") == tmp_path / "run" / "models" / "a"
    with pytest.raises(ConfigError, match="points outside the folder"):
        folder.model("../elsewhere/model")


def test_a_run_folder_where_a_file_stands_is_one_line(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="exists and is not a folder"):
        RunFolder(tmp_path / "file").create()
