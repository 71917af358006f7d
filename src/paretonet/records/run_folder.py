"""A search's run folder: the only reader and writer of its files.

run.json          command, versions, evaluator, budgets, objectives (units, directions), reference point
trials.csv        every completed trial: number, key, worker, objectives, feasible, violation (of the constraints)
front.csv/.json   the Pareto front of the feasible trials (CSV, and Records)
least_violating.csv  when no trial meets the constraints: the trials closest to meeting them
hypervolume.csv   hypervolume of the feasible front after each completed trial (normalized space)
importance.json   predictor feature importance per predicted objective (guided searches)
curves.json       robustness and noise curves of front members (train evaluator)
cascades.csv/.json  cascades of front members (search --cascades)
models/           trained float models and every evaluated variant (train evaluator)
study.db          the Optuna study (SQLite; another database when --storage names one)
report.html       the report, drawn from the files above
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from . import Record, records_from_json

_REQUIRED = ("run.json", "trials.csv", "front.csv", "hypervolume.csv")


@dataclass(frozen=True)
class RunFolder:
    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    # -- places -----------------------------------------------------------------------------------------------------
    @property
    def study_url(self) -> str:
        return f"sqlite:///{self.path / 'study.db'}"

    @property
    def models(self) -> Path:
        return self.path / "models"

    @property
    def report(self) -> Path:
        return self.path / "report.html"

    def model(self, relative: str | Path) -> Path:
        """A model file named relative to the folder; a name that leads outside it is refused."""
        p = (self.path / relative).resolve()
        if not p.is_relative_to(self.path.resolve()):
            raise ConfigError(f"run folder {self.path}: model {str(relative)!r} points outside the folder")
        return self.path / relative

    def create(self) -> None:
        if self.path.exists() and not self.path.is_dir():
            raise ConfigError(f"--output: {self.path} exists and is not a folder")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ConfigError(f"--output: cannot create the run folder {self.path}: {e.strerror or e}") from None
        import tempfile

        try:  # before any work: a search that cannot write its study, models and front would lose them
            with tempfile.NamedTemporaryFile(dir=self.path, prefix=".write-check-"):
                pass
        except OSError as e:
            raise ConfigError(f"--output: the run folder {self.path} is not writable ({e.strerror or e}); "
                              "give a folder you can write to") from None

    def check_finished(self) -> None:
        if not self.path.is_dir():
            raise ConfigError(f"RUN_DIR: {self.path} is not a folder; give the --output folder of a `paretonet search`")
        missing = [n for n in _REQUIRED if not (self.path / n).is_file()]
        if missing:
            raise ConfigError(f"RUN_DIR: {self.path} has no {', '.join(missing)}; is it the --output folder of a "
                              "finished search?")

    # -- writers ----------------------------------------------------------------------------------------------------
    def _csv(self, name: str, header: list[str], rows: list[list[Any]]) -> None:
        with (self.path / name).open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(header)
            w.writerows(rows)

    def _json(self, name: str, payload: Any) -> None:  # noqa: ANN401
        (self.path / name).write_text(json.dumps(payload, indent=1, allow_nan=False) + "\n")

    def write_trials(self, header: list[str], rows: list[list[Any]]) -> None:
        self._csv("trials.csv", header, rows)

    def write_front(self, header: list[str], rows: list[list[Any]], records: list[Record | dict]) -> None:
        """front.csv and front.json, row for row (a Record or its JSON form)."""
        self._csv("front.csv", header, rows)
        self._json("front.json", [r.to_dict() if isinstance(r, Record) else r for r in records])

    def write_least_violating(self, header: list[str], rows: list[list[Any]]) -> None:
        self._csv("least_violating.csv", header, rows)

    def write_hypervolume(self, rows: list[list[Any]]) -> None:
        self._csv("hypervolume.csv", ["evaluations", "hypervolume"], rows)

    def write_importance(self, importance: dict) -> None:
        self._json("importance.json", importance)

    def write_curves(self, curves: list[dict]) -> None:
        self._json("curves.json", curves)

    def write_cascades(self, header: list[str], rows: list[list[Any]], records: list[Record]) -> None:
        self._csv("cascades.csv", header, rows)
        self._json("cascades.json", [r.to_dict() for r in records])

    def write_run(self, run: dict) -> None:
        self._json("run.json", run)

    # -- readers ----------------------------------------------------------------------------------------------------
    def _rows(self, name: str) -> list[dict[str, str]]:
        with (self.path / name).open(newline="") as f:
            return list(csv.DictReader(f))

    def _read_json(self, name: str, default: Any = None) -> Any:  # noqa: ANN401
        p = self.path / name
        if not p.is_file():
            return default
        from .._schema import read_json

        return read_json(p, f"RUN_DIR: {p}")

    def run(self) -> dict:
        return self._read_json("run.json", {})

    def trials(self) -> list[dict[str, str]]:
        return self._rows("trials.csv")

    def front_rows(self) -> list[dict[str, str]]:
        return self._rows("front.csv")

    def least_violating(self) -> list[dict[str, str]]:
        """The trials closest to meeting the constraints, when none meets them (empty otherwise)."""
        return self._rows("least_violating.csv") if self.run().get("least_violating") else []

    def front_json(self) -> list[dict]:
        """front.json as written (a Record's JSON form per row), for rewriting it row for row."""
        return self._read_json("front.json", [])

    def front_records(self) -> list[Record]:
        return records_from_json(self.front_json(), str(self.path / "front.json"))

    def hypervolume(self) -> list[dict[str, str]]:
        return self._rows("hypervolume.csv")

    def importance(self) -> dict | None:
        return self._read_json("importance.json")

    def curves(self) -> list[dict] | None:
        return self._read_json("curves.json")
