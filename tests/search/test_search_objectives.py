"""The search reaches every measurement: any name the jobs measure is a search objective (timm's habit: one test over
every registry entry), short names resolve as compare resolves them, and what cannot be searched says so in one line."""

from __future__ import annotations

import json

import pytest

from paretonet.cli import main
from paretonet.data import DataConfig, load_dataset
from paretonet.errors import ConfigError
from paretonet.evaluate import OBJECTIVES, measurable_names
from paretonet.hw import DATAFLOWS, HARDWARE_PRESETS
from paretonet.records import records_from_json
from paretonet.records.names import ALIASES, ENERGY_PARTS, ObjectiveName, energy_name
from paretonet.search import HardwareChoices, SearchConfig, TrainBudget, TrainProblem, completed_trials, open_study, \
    run_search

TINY = TrainBudget(epochs=1, robust_images=10, queries=10, sanity_images=5, sanity_queries=10)
FLOAT_ONLY = HardwareChoices(bits=(), multipliers=(), prune=(0.0,))


@pytest.fixture(scope="module")
def digits():
    return load_dataset(DataConfig("digits"))


def _search(digits, objectives: list[str], tmp_path) -> list:
    problem = TrainProblem("lenet", digits, objectives, (), TINY, FLOAT_ONLY, pool_size=4)
    config = SearchConfig(trials=2, seed=1, predictor=False, storage=f"sqlite:///{tmp_path / 'study.db'}")
    result = run_search(problem, config)
    assert len(result.trials) == 2
    return [records_from_json(json.loads(t.user_attrs["record"]))[0]
            for t in completed_trials(open_study(problem, config, create=False))], problem


@pytest.mark.slow
@pytest.mark.parametrize("key", OBJECTIVES.names())
def test_every_registered_objective_can_be_searched(digits, key, tmp_path):
    """A 2-trial search on each registry entry (beside accuracy or size): the trial's value is its Record's objective
    of the name the registry key produces."""
    other = "size_bytes" if key == "accuracy" else "accuracy"
    records, problem = _search(digits, [other, key], tmp_path)
    full = ALIASES.get(key, key)
    assert [s.name for s in problem.objectives] == [other, full]
    assert problem.objectives[1].direction == ObjectiveName.parse(full).direction
    for rec in records:
        assert full in {o.name for o in rec.objectives}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["accuracy@noise:outputs:0.1", "accuracy@noise:gaussian:0.1",
                                  "certified_accuracy@ibp:linf:0.1", energy_name("eyeriss", "MAC16", "A", "mult")])
def test_names_of_the_grammar_beyond_the_registry_can_be_searched(digits, name, tmp_path):
    records, problem = _search(digits, ["accuracy", name], tmp_path)
    assert problem.objectives[1].name == name
    assert all(name in {o.name for o in r.objectives} for r in records)


@pytest.mark.parametrize("preset", HARDWARE_PRESETS.names())
def test_every_hardware_preset_dataflow_and_part_is_a_search_objective(digits, preset):
    unit = HARDWARE_PRESETS.get(preset).unit
    names = [energy_name(preset, unit, d, p) for d in DATAFLOWS for p in ENERGY_PARTS]
    assert set(names) <= set(measurable_names())
    problem = TrainProblem("lenet", digits, ["accuracy", *names], (), TINY, FLOAT_ONLY, pool_size=4)
    assert all(s.direction == "min" for s in problem.objectives[1:])


def test_short_names_resolve_to_the_records_names(digits):
    problem = TrainProblem("lenet", digits, ["accuracy", "energy", "size"], ("energy_mult<=1e9",), TINY, FLOAT_ONLY,
                           pool_size=4)
    assert [s.name for s in problem.objectives] == ["accuracy", "energy_pj@horowitz45:hierarchy", "size_bytes"]
    assert problem.constraints[0].name == "energy_mult_pj@horowitz45:hierarchy"
    with pytest.raises(ConfigError, match="is a maximized quantity; drop ':min'"):
        TrainProblem("lenet", digits, ["accuracy:min", "size"], (), TINY, FLOAT_ONLY, pool_size=4)


@pytest.mark.parametrize("objectives,message", [
    ("accuracy,latency_ms@pixel3", "unknown objective 'latency_ms@pixel3'"),
    ("accuracy,robust_accuracy@worst:fast:2", "eps '2' is outside [0, 1]"),
    ("accuracy,certified_accuracy@ibp:l2:0.1", "expected certified_accuracy@smoothing:l2:<radius>"),
])
def test_an_objective_the_search_cannot_measure_is_one_line_and_exit_2(capsys, tmp_path, objectives, message):
    code = main(["search", "--objectives", objectives, "--trials", "2", "--epochs", "1", "--output", str(tmp_path / "r")])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(lines) == 1 and message in lines[0], lines
