"""A search is an Optuna study: samplers ask, the evaluator answers, every trial keeps its architecture.

Storage: in memory, or any SQLAlchemy URL (a SQLite file by default for the CLI). A finished trial
is committed by Optuna as it ends, so a killed process loses only its running trial; rerunning
the same search loads the study and goes on to the budget.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, check_choice, check_int
from ._front import hypervolume, nondominated
from ._guided import GuidedProposer, Guidance
from ._table import TableProblem

SAMPLERS = ("nsga2", "nsga3", "tpe", "random")
WORKER = f"{socket.gethostname()}:{os.getpid()}"  # which process completed a trial, for shared studies
MAX_MISSES = 20  # consecutive proposals outside the table before one random table row is asked instead
ProgressFn = Callable[[int, int, float], None]  # (completed trials, budget, hypervolume of the front so far)


@dataclass(frozen=True)
class SearchConfig:
    trials: int = 100
    sampler: str = "nsga2"
    predictor: bool = True  # predictor-guided proposals (the sampler then only names the study's sampler)
    seed: int = 0
    storage: str | None = None  # None: in memory
    study: str = "paretonet"
    guidance: Guidance = Guidance()

    def __post_init__(self) -> None:
        check_int("trials", self.trials, minimum=1)
        check_choice("sampler", self.sampler, SAMPLERS)


@dataclass(frozen=True, eq=False)
class SearchResult:
    rows: tuple[int, ...]  # table rows of the completed trials, in completion order
    front: tuple[int, ...]  # rows of the non-dominated feasible trials
    hypervolume: float
    study_name: str


def mask_url(url: str) -> str:
    """A database URL with any password replaced by ***, for messages, logs and records."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def _sampler(name: str, seed: int):  # noqa: ANN202
    """Optuna's own samplers; constraints reach them through each trial's set_constraint."""
    import warnings

    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # NSGA-III is marked experimental
        return {"nsga2": optuna.samplers.NSGAIISampler, "nsga3": optuna.samplers.NSGAIIISampler,
                "tpe": optuna.samplers.TPESampler, "random": optuna.samplers.RandomSampler}[name](seed=seed)


def open_study(problem: TableProblem, config: SearchConfig, *, create: bool = True):  # noqa: ANN201
    """The study named in `config`, created (or, with create=False, only joined) in its storage."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = _sampler(config.sampler, config.seed)
    directions = ["maximize" if s.direction == "max" else "minimize" for s in problem.objectives]
    try:
        storage = None
        if config.storage is not None:
            # SQLite serializes writers: wait for the lock instead of failing while another worker writes
            kwargs = {"connect_args": {"timeout": 60}} if config.storage.startswith("sqlite") else {}
            storage = optuna.storages.RDBStorage(config.storage, engine_kwargs=kwargs)
        if create:
            return optuna.create_study(study_name=config.study, storage=storage, sampler=sampler,
                                       directions=directions, load_if_exists=True)
        return optuna.load_study(study_name=config.study, storage=storage, sampler=sampler)
    except KeyError:
        raise ConfigError(f"study: no study {config.study!r} in {mask_url(config.storage or 'memory')}") from None
    except ValueError as e:  # directions of an existing study differ
        raise ConfigError(f"study {config.study!r}: {str(e).splitlines()[0]}") from None
    except Exception as e:  # the storage itself: unreachable server, bad URL, not a database
        raise ConfigError(f"storage: cannot open {mask_url(config.storage or '')}: "
                          f"{mask_url(str(e).splitlines()[0])[:160]}") from None


def recover_interrupted(study) -> int:  # noqa: ANN001
    """Trials left running by a killed process: marked failed, their configurations asked again first.
    Only for the process that owns the study (not a --worker joining one whose trials may be running)."""
    import optuna

    stale = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    for t in stale:
        study._storage.set_trial_state_values(t._trial_id, optuna.trial.TrialState.FAIL)
        if t.params:
            study.enqueue_trial(t.params)
    return len(stale)


def _slot(study, number: int, budget: int) -> tuple[bool, list[int]]:  # noqa: ANN001
    """Whether trial `number` may complete, and the rows completed so far, from one read of the study:
    completed trials plus running ones asked before it (which go first) must leave room in the budget.
    Workers sharing a study so end with exactly `budget` completed trials."""
    import optuna

    done = optuna.trial.TrialState.COMPLETE
    trials = study.get_trials(deepcopy=False, states=(done, optuna.trial.TrialState.RUNNING))
    completed = sorted((t for t in trials if t.state == done), key=lambda t: t.number)
    ahead = len(completed) + sum(t.state != done and t.number < number for t in trials)
    return ahead < budget, [int(t.user_attrs["row"]) for t in completed]


def _completed_rows(study) -> list[int]:  # noqa: ANN001
    import optuna

    trials = sorted(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)), key=lambda t: t.number)
    return [int(t.user_attrs["row"]) for t in trials]


def run_table_search(problem: TableProblem, config: SearchConfig, progress: ProgressFn | None = None, *,
                     worker: bool = False) -> SearchResult:
    """Run (or resume) a search on a table until the study holds `config.trials` completed trials.

    A worker joins an existing study (another process may be running trials of it); otherwise the
    study is created or resumed and trials a killed run left running are retried."""
    import optuna

    study = open_study(problem, config, create=not worker)
    if not worker:
        recover_interrupted(study)
    dists = problem.distributions()
    proposer = GuidedProposer(problem, config.guidance, config.seed) if config.predictor else None
    rows = _completed_rows(study)
    ref = problem.reference_point
    attempts, queue, misses = 0, [], 0
    rng = np.random.default_rng(config.seed)
    while len(rows) < config.trials:
        attempts += 1
        if attempts > 50 * config.trials + 1000:
            raise ConfigError(f"trials: the sampler proposed mostly architectures the table lacks; "
                              f"{len(rows)} of {config.trials} completed")
        if proposer is not None:
            if not queue:
                queue = [r for r in proposer.next_batch(rows, config.trials - len(rows)) if r not in rows]
                if not queue:
                    break  # the pool is exhausted
            study.enqueue_trial(problem.params_of(queue.pop(0)))
        elif misses >= MAX_MISSES:  # the sampler keeps proposing cells the table lacks: one random table row
            study.enqueue_trial(problem.params_of(int(rng.choice(problem.rows))))
        trial = study.ask(dists)
        row = problem.row_of(trial.params)
        if row is None:  # a cell the table does not hold (degenerate): not an evaluation
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            misses += 1
            continue
        misses = 0
        if config.storage is not None:
            free, rows = _slot(study, trial.number, config.trials)
            if not free:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)  # other workers' trials fill the budget
                break
        trial.set_user_attr("row", row)
        trial.set_user_attr("worker", WORKER)
        trial.set_user_attr("architecture", problem.bench.architectures[row])
        for c, v in zip(problem.constraints, problem.violation(row)):
            trial.set_constraint(str(c), v)  # Optuna: <= 0 is feasible
        study.tell(trial, [float(v) for v in problem.values[row]])
        rows = [*rows, row]  # with shared storage, `rows` was read just before this trial
        if progress is not None:
            pts = problem.min_space(rows)
            progress(len(rows), config.trials, hypervolume(pts[nondominated(pts)], ref))
    rows = _completed_rows(study)
    feasible = [r for r in dict.fromkeys(rows) if problem.feasible(r)]
    pts = problem.min_space(feasible) if feasible else np.zeros((0, len(problem.objectives)))
    mask = nondominated(pts)
    front = tuple(r for r, m in zip(feasible, mask) if m)
    return SearchResult(tuple(rows), front, hypervolume(pts[mask], ref) if len(pts) else 0.0, config.study)
