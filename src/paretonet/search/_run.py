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

from ..errors import ConfigError, ParetonetError, check_choice, check_int
from ._front import hypervolume, nondominated
from ._guided import GuidedProposer, Guidance
from ._problem import Problem
from ._table import TableProblem

SAMPLERS = ("nsga2", "nsga3", "tpe", "random")
WORKER = f"{socket.gethostname()}:{os.getpid()}"  # which process completed a trial, for shared studies
MAX_MISSES = 20  # consecutive proposals outside the table before one random table row is asked instead
ProgressFn = Callable[["SearchProgress"], None]


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
    trials: tuple[int, ...]  # numbers of the completed trials, in order
    keys: tuple[str, ...]  # what each completed trial evaluated
    front: tuple[int, ...]  # trial numbers of the non-dominated feasible trials (each key once)
    front_keys: tuple[str, ...]  # what they evaluated
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


def open_study(problem: Problem, config: SearchConfig, *, create: bool = True):  # noqa: ANN201
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


def _slot(study, number: int, budget: int) -> tuple[bool, list, int]:  # noqa: ANN001
    """Whether trial `number` may complete, the trials completed so far and how many are running, from one
    read of the study:
    completed trials plus running ones asked before it (which go first) must leave room in the budget.
    Workers sharing a study so end with exactly `budget` completed trials."""
    import optuna

    done = optuna.trial.TrialState.COMPLETE
    trials = study.get_trials(deepcopy=False, states=(done, optuna.trial.TrialState.RUNNING))
    completed = sorted((t for t in trials if t.state == done), key=lambda t: t.number)
    ahead = len(completed) + sum(t.state != done and t.number < number for t in trials)
    return ahead < budget, completed, len(trials) - len(completed)


def completed_trials(study) -> list:  # noqa: ANN001
    import optuna

    return sorted(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)), key=lambda t: t.number)


@dataclass(frozen=True)
class SearchProgress:
    completed: int
    budget: int
    running: int  # trials of this study running now (all workers of a shared study)
    failed: int  # trials that ended without a result (outside the table, a network that does not fit, an error)
    front_size: int
    hypervolume: float


class _Tracker:
    """The completed trials' keys and normalized values, and the front they make."""

    def __init__(self, problem: Problem) -> None:
        self.problem, self.keys, self.points = problem, [], np.zeros((0, len(problem.objectives)))

    def reset(self, trials: list) -> None:  # noqa: ANN001
        self.keys = [str(t.user_attrs["key"]) for t in trials]
        values = np.array([t.values for t in trials], dtype=float).reshape(-1, len(self.problem.objectives))
        self.points = self.problem.normalize(values)

    def add(self, key: str, values: tuple[float, ...]) -> None:
        self.keys.append(key)
        self.points = np.vstack([self.points, self.problem.normalize(np.array(values))])

    def front(self) -> tuple[int, float]:
        if not len(self.points):
            return 0, 0.0
        mask = nondominated(self.points)
        return int(mask.sum()), hypervolume(self.points[mask], self.problem.reference_point)


def run_search(problem: Problem, config: SearchConfig, progress: ProgressFn | None = None, *,
               worker: bool = False, proposer: GuidedProposer | None = None) -> SearchResult:
    """Run (or resume) a search until the study holds `config.trials` completed trials.

    A worker joins an existing study (another process may be running trials of it); otherwise the
    study is created or resumed and trials a killed run left running are retried. With
    config.predictor, `proposer` (built from the problem's pool when not given) picks what to evaluate."""
    import optuna

    study = open_study(problem, config, create=not worker)
    if not worker:
        recover_interrupted(study)
    dists = problem.distributions()
    if config.predictor and proposer is None:
        proposer = GuidedProposer(problem.pool(config.seed), problem.reference_point, config.guidance, config.seed)
    track = _Tracker(problem)
    track.reset(completed_trials(study))
    attempts, queue, misses, failed = 0, [], 0, 0
    rng = np.random.default_rng(config.seed)
    while len(track.keys) < config.trials:
        attempts += 1
        if attempts > 50 * config.trials + 1000:
            raise ConfigError(f"trials: the sampler proposed mostly candidates the evaluator cannot take; "
                              f"{len(track.keys)} of {config.trials} completed")
        if proposer is not None:
            if not queue:
                index = proposer.pool.index
                seen = [(index[k], i) for i, k in enumerate(track.keys) if k in index]
                observed = track.points[[i for _, i in seen]]
                queue = [c for c in proposer.next_batch([c for c, _ in seen], observed, config.trials - len(track.keys))
                         if proposer.pool.keys[c] not in track.keys]
                if not queue:
                    break  # the pool is exhausted
            pick = queue.pop(0)
            if proposer.pool.keys[pick] in track.keys:  # another worker of a shared study evaluated it meanwhile
                continue
            study.enqueue_trial(proposer.pool.params[pick])
        elif misses >= MAX_MISSES and hasattr(problem, "rows"):  # a table the sampler keeps missing: one random row
            study.enqueue_trial(problem.params_of(int(rng.choice(problem.rows))))
        trial = study.ask(dists)
        candidate = problem.candidate(trial.params)
        if candidate is None:  # outside the table, or a network that does not fit the input: not an evaluation
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            misses, failed = misses + 1, failed + 1
            continue
        misses = 0
        running = 1
        if config.storage is not None:
            free, completed, running = _slot(study, trial.number, config.trials)
            if not free:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)  # other workers' trials fill the budget
                break
            track.reset(completed)  # other workers' results count too
        if progress is not None:
            size, hv = track.front()
            progress(SearchProgress(len(track.keys), config.trials, running, failed, size, hv))
        try:
            ev = problem.evaluate(candidate)
        except ParetonetError as e:  # e.g. a variant the evaluator cannot build: recorded, the search goes on
            trial.set_user_attr("error", str(e))
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            failed += 1
            continue
        except BaseException:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)  # Ctrl-C: the trial is retried on resume
            study.enqueue_trial(trial.params)
            raise
        for name, value in {**ev.attrs, "key": ev.key, "worker": WORKER}.items():
            trial.set_user_attr(name, value)
        for c, v in zip(problem.constraints, ev.violations):
            trial.set_constraint(str(c), v)  # Optuna: <= 0 is feasible
        study.tell(trial, list(ev.values))
        track.add(ev.key, ev.values)
        if progress is not None:
            size, hv = track.front()
            progress(SearchProgress(len(track.keys), config.trials, 0, failed, size, hv))
    return search_result(study, problem, config.study)


def search_result(study, problem: Problem, name: str) -> SearchResult:  # noqa: ANN001
    """The completed trials in order and the front of the feasible ones (each key once)."""
    trials = completed_trials(study)
    first: dict[str, object] = {}
    for t in trials:
        if all(v <= 0 for v in t.constraints.values()):
            first.setdefault(str(t.user_attrs["key"]), t)
    kept = list(first.values())
    values = np.array([t.values for t in kept], dtype=float).reshape(-1, len(problem.objectives))
    pts = problem.normalize(values)
    mask = nondominated(pts)
    front = [t for t, m in zip(kept, mask) if m]
    return SearchResult(tuple(t.number for t in trials), tuple(str(t.user_attrs["key"]) for t in trials),
                        tuple(t.number for t in front), tuple(str(t.user_attrs["key"]) for t in front),
                        hypervolume(pts[mask], problem.reference_point) if len(pts) else 0.0, name)


def run_table_search(problem: TableProblem, config: SearchConfig, progress: ProgressFn | None = None, *,
                     worker: bool = False) -> SearchResult:
    return run_search(problem, config, progress, worker=worker)
