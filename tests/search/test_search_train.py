"""The train evaluator: every trial trains for real and measures its variant; the run folder and the report."""

from __future__ import annotations

import csv
import json

import pytest

from paretonet.cli import main
from paretonet.data import DataConfig, load_dataset
from paretonet.evaluate import accuracy, energy_objective
from paretonet.modelfile import load_model
from paretonet.records import records_from_json
from paretonet.search import (Guidance, HardwareChoices, SearchConfig, TrainBudget, TrainProblem, completed_trials,
                              open_study, run_search)
from paretonet.variant import Variant

TINY = TrainBudget(epochs=1, robust_images=20, queries=20, sanity_images=10, sanity_queries=20)
OBJECTIVES = ["accuracy", "robust_accuracy@worst:fast:0.1", "energy_pj@horowitz45:hierarchy", "size_bytes"]
FAST = ["--epochs", "1", "--robust-images", "20", "--queries", "20", "--bits", "8", "--multipliers", "",
        "--prune", "0,0.5", "--pool-size", "40"]  # 10 architectures x 4 hardware choices


@pytest.fixture(scope="module")
def digits():
    return load_dataset(DataConfig("digits"))


def test_hardware_choices_name_the_variants():
    h = HardwareChoices(bits=(8, 4), multipliers=("trunc:k=6",), prune=(0.0, 0.5))
    assert h.arith == ("float", "int8", "int4", "mult:trunc:k=6")
    assert h.variant("int4", 0.5) == Variant(bits=4, prune=0.5)
    assert h.variant("mult:trunc:k=6", 0.0) == Variant(multiplier="trunc:k=6")
    assert h.variant("float", 0.0).is_float


def test_every_trial_is_measured_on_the_model_its_key_names(tmp_path, digits):
    """Each completed trial's values are its Record's, the Record's variant is the trial's hardware choice,
    and the saved model file of the trial measures to the Record's accuracy and energy."""
    problem = TrainProblem("lenet", digits, OBJECTIVES, ("size_bytes<=400000",), TINY,
                           HardwareChoices(bits=(8,), multipliers=("trunc:k=6",), prune=(0.0, 0.5)),
                           run_dir=tmp_path, pool_size=12)
    config = SearchConfig(trials=4, seed=3, storage=f"sqlite:///{tmp_path / 'study.db'}",
                          guidance=Guidance(initial=2, min_batch=2))
    r = run_search(problem, config)
    assert len(r.trials) == 4 and r.front
    study = open_study(problem, config, create=False)
    for t in completed_trials(study):
        rec = records_from_json(json.loads(t.user_attrs["record"]))[0]
        by_name = {o.name: o.value for o in rec.objectives}
        assert list(t.values) == [by_name[n] for n in OBJECTIVES]
        assert rec.variant == str(HardwareChoices.variant(t.params["arith"], t.params["prune"]))
        assert rec.budgets["training"]["epochs"] == 1 and rec.budgets["search_budget"]["robust_images"] == 20
        model, meta = load_model(tmp_path / t.user_attrs["model"])
        assert meta.variant == rec.variant and meta.architecture == rec.architecture
        assert accuracy(model, digits.test) == by_name["accuracy"]
        assert energy_objective(model, digits.input_shape).value == pytest.approx(by_name["energy_pj@horowitz45:hierarchy"])
        assert t.constraints["size_bytes<=400000"] == max(0.0, by_name["size_bytes"] - 400000)


def test_search_cli_writes_front_models_and_a_report_that_draws_in_a_browser(tmp_path, draws_in_browser, monkeypatch):
    import paretonet.evaluate as evaluate_package
    from paretonet.errors import ConfigError

    real, calls = evaluate_package.ibp_certified, []

    def first_member_unbounded(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(1)
        if len(calls) == 1:  # a member with a layer interval bounds do not know (GELU before they did)
            raise ConfigError("IBP: layer model.1 (Unknown) has no interval bounds")
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluate_package, "ibp_certified", first_member_unbounded)
    run = tmp_path / "run"
    # every trial completes (no early stopping), so the predictor has results enough to draw its importance
    code = main(["search", "--trials", "3", "--seed", "1", *FAST, "--no-early-stopping", "--output", str(run)])
    assert code == 0
    front = records_from_json(json.loads((run / "front.json").read_text()))
    assert front and all(r.budgets["evaluator"] == "train" for r in front)
    run_info = json.loads((run / "run.json").read_text())
    assert run_info["completed"] == 3 and run_info["evaluator"]["budget"]["epochs"] == 1
    assert [o["name"] for o in run_info["objectives"]] == OBJECTIVES
    for line in (run / "front.csv").read_text().splitlines()[1:]:
        assert (run / (line.rsplit(",", 1)[1] + ".safetensors")).is_file()
    curves = json.loads((run / "curves.json").read_text())
    assert curves and all(len(c["robust"]) == 3 and len(c["noise"]) == 4 for c in curves)
    assert curves[0]["certified"] == []  # the report goes on without that member's certified curve
    html = (run / "report.html").read_text()
    assert "<script" in html and "<script src" not in html and "<link" not in html  # nothing fetched: self-contained
    draws_in_browser(run / "report.html", ("pareto", "hypervolume", "robustness", "noise", "energy", "importance0"))
    assert main(["report", str(run), "--member", "999"]) == 2  # not a front trial: one error line
    assert main(["report", str(run), "--output", str(tmp_path / "again.html")]) == 0
    assert (tmp_path / "again.html").stat().st_size > 1_000_000  # plotly's JS is inlined


@pytest.mark.slow
def test_search_optimizes_accuracy_under_faults_and_noise(tmp_path, digits):
    objectives = ["accuracy@faults:weights:0.001", "accuracy@noise:outputs:0.1", "size_bytes"]
    problem = TrainProblem("lenet", digits, objectives, (), TINY, HardwareChoices(bits=(8,), multipliers=(), prune=(0.0,)),
                           pool_size=6)
    r = run_search(problem, SearchConfig(trials=2, seed=1, storage=f"sqlite:///{tmp_path / 'study.db'}",
                                         guidance=Guidance(initial=2, min_batch=2)))
    study = open_study(problem, SearchConfig(trials=2, seed=1, storage=f"sqlite:///{tmp_path / 'study.db'}"), create=False)
    assert len(r.trials) == 2
    for t in completed_trials(study):
        rec = records_from_json(json.loads(t.user_attrs["record"]))[0]
        by_name = {o.name: o.value for o in rec.objectives}
        assert list(t.values) == [by_name[n] for n in objectives]
        assert 0.0 <= by_name["accuracy@noise:outputs:0.1"] <= 1.0
        assert rec.budgets["fault_trials"] == 20 and rec.budgets["noise_draws"] == 5


BAD = {
    "non-canonical noise objective": (["--objectives", "accuracy,accuracy@noise:outputs:0.10"],
                                      "write 'accuracy@noise:outputs:0.10' as 'accuracy@noise:outputs:0.1'"),
    "malformed fault objective": (["--objectives", "accuracy,accuracy@faults:weights:often"], "faults: got 'weights:often'"),
    "unknown space": (["--space", "vgg"], "unknown search space 'vgg'; known: lenet, nb201"),
    "bits out of range": (["--bits", "40"], "bits: got 40"),
    "unknown multiplier": (["--multipliers", "nosuch"], "nosuch"),
    "prune not a number": (["--prune", "half"], "--prune: got 'half', expected comma-separated numbers"),
    "unknown objective": (["--objectives", "accuracy,latency_ms@pixel3"], "unknown objective 'latency_ms@pixel3'"),
    "pool size below 1": (["--pool-size", "0"], "pool_size: got 0, expected an integer >= 1"),
    "epochs below 1": (["--epochs", "0"], "epochs: got 0, expected an integer >= 1"),
    "cascades of an objective they lack": (["--cascades", "--objectives", "accuracy,accuracy@faults:weights:0.001"],
                                           "--cascades: cascades are not measured on accuracy@faults:weights:0.001"),
    "cascade drop above 1": (["--cascades", "--cascade-drop", "2"], "--cascade-drop: got 2, expected a number in [0, 1]"),
    "rungs not integers": (["--rungs", "x"], "--rungs: got 'x', expected comma-separated integers"),
    "rungs not increasing": (["--rungs", "2,1"], "rungs: got 2,1, expected increasing epochs"),
    "rung below 1": (["--rungs", "0"], "rungs: got 0, expected an integer >= 1"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_train_search_input_is_one_line_and_exit_2(capsys, tmp_path, case):
    args, message = BAD[case]
    code = main(["search", "--trials", "2", "--output", str(tmp_path / "run"), *args])
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(err) == 1 and message in err[0], err


def test_report_of_a_folder_that_is_no_run_is_exit_2(capsys, tmp_path):
    assert main(["report", str(tmp_path)]) == 2
    assert "is it the --output folder of a finished search?" in capsys.readouterr().err


@pytest.mark.slow
def test_search_adds_non_dominated_cascades_of_front_members(tmp_path):
    run = tmp_path / "run"
    assert main(["search", "--trials", "6", "--seed", "2", *FAST, "--cascades", "--no-early-stopping", "--no-report",
                 "--output", str(run)]) == 0
    with (run / "cascades.csv").open() as f:
        measured = list(csv.DictReader(f))
    chained = records_from_json(json.loads((run / "cascades.json").read_text()))
    assert measured and len(measured) == len(chained)
    for r in chained:  # every search objective measured on the cascade itself
        assert r.architecture.startswith("cascade:softmax>") and {o.name for o in r.objectives} >= set(OBJECTIVES)
    with (run / "front.csv").open() as f:
        front = list(csv.DictReader(f))
    joined = [row for row in front if row["trial"].startswith("cascade")]
    assert len(joined) == sum(row["on_front"] == "True" for row in measured)
    values = [[float(row[n]) * (-1 if n.startswith(("accuracy", "robust")) else 1) for n in OBJECTIVES] for row in front]
    for k, v in enumerate(values):  # the front with its cascades is still mutually non-dominated
        assert not any(all(a <= b for a, b in zip(w, v)) and w != v for j, w in enumerate(values) if j != k)
    assert len(json.loads((run / "front.json").read_text())) == len(front)
    assert main(["search", "--bench", "nb201-cifar10", "--cascades", "--trials", "2", "--output", str(tmp_path / "t")]) == 2
