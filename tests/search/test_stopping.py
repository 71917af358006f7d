"""Multi-objective early stopping: the judge's estimates, a trained trial stopped at a rung or before its attacks,
and the search loop's bookkeeping of stopped trials (pruned, never counted, never proposed again)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from paretonet.data import DataConfig, load_dataset
from paretonet.errors import ConfigError
from paretonet.records import records_from_json
from paretonet.search import (EarlyStopping, Evaluation, HardwareChoices, Pool, SearchConfig, TrainBudget, TrainProblem,
                              completed_trials, open_study, run_search, stopped_trials)
from paretonet.search._spec import ObjectiveSpec
from paretonet.search._stopping import FINAL, Judge
from paretonet.spaces import Architecture
from paretonet.variant import Variant

DIRECTIONS = ["max", "max", "min"]  # accuracy, robust accuracy, a cost


def _normalize(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=float).reshape(-1, 3) * np.array([-1.0, -1.0, 1.0])


def _judge(n: int = 6, **kw) -> Judge:  # noqa: ANN003
    """n completed trials whose final accuracy is their rung-1 value + 0.1 and robust accuracy half of it."""
    rung1 = np.linspace(0.5, 0.8, n)
    values = np.stack([rung1 + 0.1, (rung1 + 0.1) / 2, np.full(n, 10.0)], axis=1)
    return Judge(EarlyStopping(**kw), DIRECTIONS, _normalize, values, np.ones(n, bool),
                 [{"1": float(r), FINAL: float(r + 0.1)} for r in rung1])


def test_the_judge_estimates_final_values_from_the_rung_by_a_fitted_line():
    j = _judge(slack=0.0, optimism=0.0)
    est = j.estimate("1", 0.6, [None, None, 5.0])
    assert est == pytest.approx([0.7, 0.35, 5.0])  # an exact line: no residual, no slack
    assert _judge(slack=0.05, optimism=0.0).estimate("1", 0.6, [None, None, 5.0])[:2] == pytest.approx([0.75, 0.40])


def test_the_judge_waits_for_warmup_trials_unless_everything_is_measured():
    j = _judge(n=3, warmup=5)
    assert j.estimate("1", 0.6, [None, None, 5.0]) is None and not j.stop("1", 0.1, [None, None, 50.0])
    assert j.stop(FINAL, 0.1, [0.1, 0.05, 50.0])  # measured (or bounded from above) values need no warmup


def test_a_trial_stops_only_when_its_optimistic_estimate_is_dominated():
    j = _judge(slack=0.0, optimism=0.0)
    assert j.stop("1", 0.55, [None, None, 20.0])  # worse at every objective than the best completed trial
    assert set(j.stopped_by) >= {5} and j.last_estimate[0] == pytest.approx(0.65)
    assert not j.stop("1", 0.55, [None, None, 5.0])  # cheaper than every completed trial: it could join the front
    assert not j.stop("1", 0.95, [None, None, 20.0])  # more accurate than any: it could join the front
    assert not _judge(slack=0.0, optimism=0.0, dominators=7).stop("1", 0.55, [None, None, 20.0])


def test_optimism_widens_the_estimate_by_the_residual_spread():
    rung1 = np.array([0.5, 0.6, 0.7, 0.8, 0.9])
    final = np.array([0.65, 0.65, 0.85, 0.85, 1.0])  # noisy around a line
    values = np.stack([final, final / 2, np.full(5, 1.0)], axis=1)
    rungs = [{"1": float(r), FINAL: float(f)} for r, f in zip(rung1, final)]
    lo = Judge(EarlyStopping(optimism=0.0, slack=0.0), DIRECTIONS, _normalize, values, np.ones(5, bool), rungs)
    hi = Judge(EarlyStopping(optimism=2.0, slack=0.0), DIRECTIONS, _normalize, values, np.ones(5, bool), rungs)
    a, b = lo.estimate("1", 0.7, [None, None, 1.0]), hi.estimate("1", 0.7, [None, None, 1.0])
    residual = final - np.polyval(np.polyfit(rung1, final, 1), rung1)
    assert b[0] - a[0] == pytest.approx(2.0 * np.sqrt((residual ** 2).sum() / 3))


@pytest.mark.parametrize("kw", [{"rungs": ()}, {"rungs": (2, 1)}, {"rungs": (0,)}, {"warmup": 0}, {"slack": -0.1},
                                {"optimism": -1.0}, {"dominators": 0}])
def test_bad_early_stopping_settings_are_one_line_errors(kw):
    with pytest.raises(ConfigError) as e:
        EarlyStopping(**kw)
    assert "\n" not in str(e.value)


# -- the train evaluator at its rungs ----------------------------------------------------------------------------
TINY = TrainBudget(epochs=3, robust_images=20, queries=20, sanity_images=10, sanity_queries=20)
OBJECTIVES = ["accuracy", "robust_accuracy@worst:fast:0.1", "energy_pj@horowitz45:hierarchy", "size_bytes"]


@pytest.fixture(scope="module")
def digits():
    return load_dataset(DataConfig("digits"))


def _problem(digits, tmp_path) -> TrainProblem:  # noqa: ANN001
    return TrainProblem("lenet", digits, OBJECTIVES, (), TINY, HardwareChoices(bits=(8,), multipliers=(), prune=(0.0,)),
                        run_dir=tmp_path, pool_size=8)


LENET = (Architecture.parse("lenet:r32-valid|c6k5-relu-max|c16k5-relu-max|f120-relu|f84-relu"), Variant(bits=8))


def test_a_trial_stopped_at_a_rung_keeps_a_partial_record_of_what_was_measured(digits, tmp_path):
    problem = _problem(digits, tmp_path)
    seen: list[tuple[str, float, list]] = []

    def stop_at_2(rung: str, value: float, known: list) -> bool:  # noqa: ANN001
        seen.append((rung, value, list(known)))
        return rung == "2"

    ev = problem.evaluate(LENET, stop_at_2, (1, 2))
    assert ev.stopped_at == "2" and ev.values == () and ev.attrs["epochs_trained"] == 2
    assert [r for r, _, _ in seen] == ["1", "2"]
    assert seen[0][2][0] is None and seen[0][2][1] is None  # accuracies are not known before training ends
    rec = records_from_json(json.loads(ev.attrs["record"]))[0]
    assert rec.variant == "bits=8" and rec.budgets["epochs_run"] == 2 and rec.budgets["stopped_at"] == "2"
    assert {o.name for o in rec.objectives} == {"energy_pj@horowitz45:hierarchy", "size_bytes"}
    assert [o.value for o in rec.objectives if o.name == "size_bytes"] == [seen[0][2][3]]
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())  # a partial model is not kept
    full = problem.evaluate(LENET)  # asked again without stopping: trained from the start, nothing borrowed
    assert full.stopped_at is None and full.attrs["epochs_trained"] == 3
    assert set(full.attrs["rungs"]) == {FINAL} and len(full.attrs["val_accuracy"]) == 3


def test_a_trial_stopped_before_its_attacks_has_its_accuracy_and_no_robust_accuracy(digits, tmp_path):
    problem = _problem(digits, tmp_path)
    problem.evaluate((LENET[0], Variant()))  # trains the architecture
    bounds: list = []

    def stop_before_attacks(rung: str, value: float, known: list) -> bool:  # noqa: ANN001
        bounds.append((rung, known[1]))
        return rung == FINAL

    ev = problem.evaluate(LENET, stop_before_attacks, (1, 2))
    assert ev.stopped_at == FINAL and ev.attrs["epochs_trained"] == 0  # the trained architecture was reused
    rec = records_from_json(json.loads(ev.attrs["record"]))[0]
    names = {o.name for o in rec.objectives}
    assert "accuracy" in names and "robust_accuracy@worst:fast:0.1" not in names
    assert rec.budgets["attacks_run"] == [] and rec.details["robustness"]["at_most"] == bounds[0][1]
    assert bounds == [(FINAL, bounds[0][1])] and 0.0 < bounds[0][1] <= 1.0  # the clean accuracy of the attacked images


# -- the search loop ---------------------------------------------------------------------------------------------
class _Rungs:
    """A problem of 30 candidates whose values are known in advance; candidates >= 20 report a rung and are stopped
    there when the judge says so. Counts evaluations per candidate; a completed one is answered from memory, as the
    train evaluator does."""

    objectives = (ObjectiveSpec("accuracy", "max"), ObjectiveSpec("size_bytes", "min"))
    constraints = ()

    def __init__(self) -> None:
        self.calls: dict[int, int] = {}
        self.done: dict[int, Evaluation] = {}
        rng = np.random.default_rng(0)
        self.acc = np.where(np.arange(30) < 20, rng.uniform(0.6, 0.9, 30), rng.uniform(0.1, 0.2, 30))
        self.size = rng.uniform(10, 20, 30)

    reference_point = np.array([0.0, 1.0])

    def normalize(self, values):  # noqa: ANN001, ANN201
        return np.asarray(values, dtype=float).reshape(-1, 2) * np.array([-1.0, 1.0 / 20])

    def distributions(self) -> dict:
        import optuna

        return {"c": optuna.distributions.CategoricalDistribution(list(range(30)))}

    def candidate(self, params):  # noqa: ANN001, ANN201
        return int(params["c"])

    def key(self, c: int) -> str:
        return f"c{c}"

    def evaluate(self, c: int, stop=None, rungs=()) -> Evaluation:  # noqa: ANN001
        if c in self.done:
            return self.done[c]
        self.calls[c] = self.calls.get(c, 0) + 1
        rung = {"1": float(self.acc[c] - 0.1), FINAL: float(self.acc[c])}
        if stop is not None and stop("1", rung["1"], [None, float(self.size[c])]):
            return Evaluation(self.key(c), (), (), {"epochs_trained": 1}, stopped_at="1")
        self.done[c] = Evaluation(self.key(c), (float(self.acc[c]), float(self.size[c])), (), {"rungs": rung})
        return self.done[c]

    def pool(self, seed: int) -> Pool:
        features = np.arange(30, dtype=float)[:, None]
        return Pool(tuple({"c": c} for c in range(30)), tuple(self.key(c) for c in range(30)), ["c"], features,
                    np.zeros((30, 2)), np.zeros(2, dtype=bool), np.zeros(30), np.zeros(30))


def test_stopped_trials_are_pruned_count_against_the_budget_and_are_not_proposed_again(tmp_path):
    problem = _Rungs()
    config = SearchConfig(trials=20, sampler="random", predictor=False, seed=0,
                          storage=f"sqlite:///{tmp_path / 'study.db'}",
                          stopping=EarlyStopping(rungs=(1,), warmup=5, slack=0.0, optimism=0.0))
    result = run_search(problem, config)
    study = open_study(problem, config, create=False)
    stopped = stopped_trials(study)
    assert len(completed_trials(study)) + len(stopped) == 20 == len(result.trials) + len(stopped)  # both count
    assert stopped and all(t.user_attrs["stopped_at"] == "1" and t.user_attrs["dominated_by"] for t in stopped)
    done = {t.number: t for t in completed_trials(study)}
    for t in stopped:  # the line fits exactly here, so a stopped trial is one its dominators truly dominate
        c = int(t.user_attrs["key"][1:])
        for n in t.user_attrs["dominated_by"]:
            acc, size = done[n].values
            assert n < t.number and acc >= problem.acc[c] and size <= problem.size[c]
    assert any(int(t.user_attrs["key"][1:]) >= 20 for t in stopped)  # the hopeless ones among them
    assert max(problem.calls.values()) == 1  # a stopped candidate is not evaluated again
    assert all(len(t.user_attrs["estimate"]) == 2 for t in stopped)
