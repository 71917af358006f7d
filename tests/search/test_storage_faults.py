"""Fault tests of shared studies: a database restarted under running workers, a worker killed mid-trial, an owner
restarted while a worker trains, several guided workers picking at once. Each asserts what a user relies on:
exactly the budget of completed trials, no configuration completed twice, nothing lost, every process exit 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter

import pytest
from studies import POSTGRES, RESTART, check_retried, study_trials, study_url  # tests/studies.py

SEARCH = [sys.executable, "-m", "paretonet.cli", "search"]
TRAIN = ["--space", "lenet", "--epochs", "1", "--robust-images", "20", "--queries", "50", "--no-predictor",
         "--sampler", "random", "--no-early-stopping", "--no-report", "--heartbeat", "1"]


def _check_budget(url: str, study: str, budget: int) -> list:
    """Exactly `budget` completed trials, each configuration once, none left running; the completed trials."""
    trials = study_trials(url, study)
    done = [t for t in trials if t.state.name == "COMPLETE"]
    keys = Counter(t.user_attrs["key"] for t in done)
    assert len(done) == budget, Counter(t.state.name for t in trials)
    assert max(keys.values()) == 1, [k for k, n in keys.items() if n > 1]
    assert not [t.number for t in trials if t.state.name == "RUNNING"]
    return done


def _wait_for(predicate, timeout_s: float, *procs) -> None:  # noqa: ANN001
    deadline = time.time() + timeout_s
    while not predicate():
        assert time.time() < deadline, "timed out"
        for p in procs:
            assert p.poll() is None, p.communicate()[1]
        time.sleep(0.1)


def _finish(*procs) -> None:  # noqa: ANN002
    for p in procs:
        _, err = p.communicate(timeout=900)
        assert p.returncode == 0, err


@pytest.mark.slow  # 45 s; .ci/run runs the slow tests against its PostgreSQL
def test_workers_survive_three_database_restarts(tmp_path, shared):
    """`pg_ctl restart -m fast` three times under two guided workers: connections are re-made, failed calls retried."""
    if not (POSTGRES and RESTART):
        pytest.skip("no restartable PostgreSQL server: .ci/run starts one and sets PARETONET_TEST_POSTGRES(_RESTART)")
    study = f"restart-{uuid.uuid4().hex[:8]}"
    base = [*SEARCH, "--bench", "nb201-cifar10", "--storage", POSTGRES, "--study", study, "--trials", "300",
            "--no-report", "--heartbeat", "2"]
    owner = subprocess.Popen([*base, "--output", str(tmp_path / "a")], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: any(t.state.name == "COMPLETE" for t in study_trials(POSTGRES, study)), 180, owner)
    worker = subprocess.Popen([*base, "--worker", "--seed", "1", "--output", str(tmp_path / "b")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for _ in range(3):
        time.sleep(3)
        assert owner.poll() is None and worker.poll() is None, "the search ended before the restarts: raise --trials"
        subprocess.run(RESTART, shell=True, check=True, capture_output=True, timeout=120)
    _finish(owner, worker)
    done = _check_budget(POSTGRES, study, 300)
    assert len({t.user_attrs["worker"] for t in done}) == 2


@pytest.mark.slow  # 50 s per storage
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_dead_workers_trial_is_retried_and_a_restarted_owner_fails_no_live_trial(tmp_path, shared, kind):
    """(b) a worker killed mid-trial: its trial goes stale when its heartbeat stops and is retried once, and the
    others end with the whole budget, not one short; (a) an owner started while a worker trains leaves that
    worker's trial alone (it completes, the worker exits 0)."""
    url, study = study_url(kind, tmp_path), f"heartbeat-{uuid.uuid4().hex[:8]}"
    base = [*SEARCH, *TRAIN, "--storage", url, "--study", study]
    first = subprocess.run([*base, "--trials", "1", "--output", str(tmp_path / "a")], capture_output=True, text=True,
                           timeout=300)
    assert first.returncode == 0, first.stderr

    def running() -> list[int]:
        return [t.number for t in study_trials(url, study) if t.state.name == "RUNNING"]

    doomed = subprocess.Popen([*base, "--trials", "5", "--worker", "--seed", "1", "--output", str(tmp_path / "b")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    _wait_for(lambda: running(), 120, doomed)
    killed = running()
    os.killpg(doomed.pid, signal.SIGKILL)
    doomed.wait()
    worker = subprocess.Popen([*base, "--trials", "5", "--worker", "--seed", "2", "--output", str(tmp_path / "c")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: set(running()) - set(killed), 120, worker)
    live = sorted(set(running()) - set(killed))
    owner = subprocess.Popen([*base, "--trials", "5", "--seed", "3", "--output", str(tmp_path / "a")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _finish(worker, owner)
    _check_budget(url, study, 5)
    by_number = {t.number: t for t in study_trials(url, study)}
    assert all(by_number[n].state.name == "COMPLETE" for n in live)  # the live worker's trial was not failed
    check_retried(list(by_number.values()), killed)  # and the dead one's configuration was asked again


@pytest.mark.slow  # 50 s
def test_three_guided_workers_evaluate_nothing_twice(tmp_path, shared):
    """Three guided workers on one PostgreSQL study: each pick carries its key from the moment it is enqueued and
    is checked against every running, waiting and ended trial: 300 trials, no duplicate."""
    if not POSTGRES:
        pytest.skip("no PostgreSQL server: .ci/run starts one and sets PARETONET_TEST_POSTGRES")
    study = f"three-{uuid.uuid4().hex[:8]}"
    base = [*SEARCH, "--bench", "nb201-cifar10", "--storage", POSTGRES, "--study", study, "--trials", "300",
            "--no-report"]
    owner = subprocess.Popen([*base, "--output", str(tmp_path / "a")], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: any(t.state.name == "COMPLETE" for t in study_trials(POSTGRES, study)), 180, owner)
    workers = [subprocess.Popen([*base, "--worker", "--seed", str(k), "--output", str(tmp_path / f"w{k}")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for k in (1, 2)]
    _finish(owner, *workers)
    done = _check_budget(POSTGRES, study, 300)
    assert len({t.user_attrs["worker"] for t in done}) == 3


def test_a_waiting_trial_of_a_completed_configuration_is_not_evaluated_again(tmp_path, shared):
    """A resumed search with a larger budget pops a trial left waiting for a configuration that completed meanwhile:
    it is recognised as a duplicate (costs nothing), not evaluated a second time."""
    import optuna

    from paretonet.bench import open_bench
    from paretonet.search import SearchConfig, TableProblem, open_study, run_table_search

    problem = TableProblem.from_names(open_bench("nb201-cifar10"), ["accuracy", "robust_accuracy@apgd-ce:1/255",
                                                                    "proxy_flops"])
    config = SearchConfig(trials=20, sampler="random", predictor=False, storage=f"sqlite:///{tmp_path / 's.db'}")
    run_table_search(problem, config)
    study = open_study(problem, config, create=False)
    first = min((t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE), key=lambda t: t.number)
    study.enqueue_trial(first.params)  # what a worker's pick left behind when the budget filled
    run_table_search(problem, SearchConfig(trials=30, sampler="random", predictor=False, storage=config.storage))
    done = [t for t in open_study(problem, config, create=False).trials if t.state == optuna.trial.TrialState.COMPLETE]
    keys = Counter(t.user_attrs["key"] for t in done)
    assert len(done) == 30 and max(keys.values()) == 1
