"""Shared-study helpers of the search tests: the database to use and the trials a study holds."""

from __future__ import annotations

import os

import pytest

POSTGRES = os.environ.get("PARETONET_TEST_POSTGRES")  # set by .ci/run, which starts a server on localhost
RESTART = os.environ.get("PARETONET_TEST_POSTGRES_RESTART")  # .ci/run: the command that restarts that server


def study_url(kind: str, tmp_path) -> str:  # noqa: ANN001
    """PostgreSQL (skipped with its reason where .ci/run did not start one) or a SQLite file in tmp_path."""
    if kind == "postgresql":
        if not POSTGRES:
            pytest.skip("no PostgreSQL server: .ci/run starts one and sets PARETONET_TEST_POSTGRES")
        return POSTGRES
    return f"sqlite:///{tmp_path / 'study.db'}"


def study_trials(url: str, study: str) -> list:
    """Every trial of the study; [] while it does not exist yet (or the server restarts)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        return optuna.load_study(study_name=study, storage=url).get_trials(deepcopy=False)
    except Exception:  # not created yet, the file is being written, the server is restarting
        return []
