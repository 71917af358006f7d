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


def check_retried(trials: list, killed: list[int]) -> None:
    """Each trial a killed process left running was failed when its heartbeat stopped and asked exactly once more,
    and that retry ended: completed, or failed because its configuration is not an evaluation (outside the table,
    or completed meanwhile by another trial: a duplicate costs nothing)."""
    by_number = {t.number: t for t in trials}
    completed = {t.user_attrs.get("key") for t in trials if t.state.name == "COMPLETE"}
    for n in killed:
        assert by_number[n].state.name == "FAIL", (n, by_number[n].state)
        retries = [t for t in trials if t.system_attrs.get("failed_trial") == n]
        assert len(retries) == 1 and retries[0].state.name in ("COMPLETE", "FAIL"), (n, retries)
        retry = retries[0]
        assert retry.state.name == "COMPLETE" or retry.user_attrs.get("key") in completed | {None}, (n, retry)
