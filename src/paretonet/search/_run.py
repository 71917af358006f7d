"""A search is an Optuna study: samplers ask, the evaluator answers, every trial keeps its architecture.

Storage: in memory, or any SQLAlchemy URL (a SQLite file by default for the CLI). A finished trial
is committed by Optuna as it ends, so a killed process loses only its running trial, which goes stale when
its heartbeat stops and is retried once by whichever process reads the study next (`_storage`); rerunning
the same search loads the study and goes on to the budget.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, ParetonetError, check_choice, check_float, check_int
from ._front import hypervolume, nondominated
from ._guided import GuidedProposer, Guidance
from ._problem import Problem
from ._stopping import EarlyStopping, Judge
from ._storage import HEARTBEAT_S, STORAGE_RETRY_S, fail_stale_trials, heartbeat, mask_url, retrying_storage
from ._table import TableProblem

SAMPLERS = ("nsga2", "nsga3", "tpe", "random")
WORKER = f"{socket.gethostname()}:{os.getpid()}"  # which process completed a trial, for shared studies
LEAST_VIOLATING = 5  # trials reported when none meets the constraints
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
    stopping: EarlyStopping | None = None  # multi-objective early stopping of trained trials (None: every trial ends)
    heartbeat_s: int = HEARTBEAT_S  # a running trial's heartbeat; stale (retried once) after 3 missed beats
    storage_retry_s: float = STORAGE_RETRY_S  # a database outage is waited out this long, then the search stops

    def __post_init__(self) -> None:
        check_int("trials", self.trials, minimum=1)
        check_choice("sampler", self.sampler, SAMPLERS)
        check_int("--heartbeat", self.heartbeat_s, minimum=1)
        check_float("--storage-retry", self.storage_retry_s, minimum=0.0, maximum=86_400.0)


@dataclass(frozen=True, eq=False)
class SearchResult:
    trials: tuple[int, ...]  # numbers of the completed trials, in order
    keys: tuple[str, ...]  # what each completed trial evaluated
    front: tuple[int, ...]  # trial numbers of the non-dominated feasible trials (each key once)
    front_keys: tuple[str, ...]  # what they evaluated
    hypervolume: float
    study_name: str
    # when no completed trial meets the constraints: the trials closest to meeting them (least total violation first)
    least_violating: tuple[int, ...] = ()


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
    # a guided search enqueues every trial's parameters: Optuna's cheapest sampler, as NSGA-II re-reads every past
    # trial at each ask (its time per trial grows with the study)
    sampler = _sampler("random" if config.predictor else config.sampler, config.seed)
    directions = ["maximize" if s.direction == "max" else "minimize" for s in problem.objectives]
    try:
        storage = None
        if config.storage is not None:
            storage = retrying_storage(config.storage, config.storage_retry_s, config.heartbeat_s)
        if create:
            return optuna.create_study(study_name=config.study, storage=storage, sampler=sampler,
                                       directions=directions, load_if_exists=True)
        return optuna.load_study(study_name=config.study, storage=storage, sampler=sampler)
    except ConfigError:
        raise
    except KeyError:
        raise ConfigError(f"study: no study {config.study!r} in {mask_url(config.storage or 'memory')}") from None
    except ValueError as e:  # directions of an existing study differ
        raise ConfigError(f"study {config.study!r}: {str(e).splitlines()[0]}") from None
    except Exception as e:  # the storage itself: unreachable server, bad URL, not a database
        raise ConfigError(f"storage: cannot open {mask_url(config.storage or '')}: "
                          f"{mask_url(str(e).splitlines()[0])[:160]}") from None


@dataclass(frozen=True)
class _Slot:
    free: bool  # ended trials plus running ones asked before this one leave room in the budget
    taken: bool  # another trial holds the same key: completed or stopped, or running or waiting and asked before
    completed: list
    stopped: list
    running: int


def _slot(study, number: int, budget: int, key: str) -> _Slot:  # noqa: ANN001
    """Trial `number`'s place in a shared study, from one read of it. Running trials asked before it go first, so
    workers end with exactly `budget` completed trials; every trial carries its key from the moment it is asked (a
    guided pick from the moment it is enqueued), so of two workers that pick one candidate only the first evaluates
    it."""
    import optuna

    state = optuna.trial.TrialState
    trials = sorted(study.get_trials(deepcopy=False, states=(state.COMPLETE, state.RUNNING, state.PRUNED,
                                                             state.WAITING)), key=lambda t: t.number)
    completed = [t for t in trials if t.state == state.COMPLETE]
    ahead = sum(t.state in (state.COMPLETE, state.PRUNED) or t.state == state.RUNNING and t.number < number
                for t in trials)
    taken = any(t.user_attrs.get("key") == key and t.number != number
                and (t.state in (state.COMPLETE, state.PRUNED) or t.number < number) for t in trials)
    return _Slot(ahead < budget, taken, completed, [t for t in trials if t.state == state.PRUNED],
                 sum(t.state == state.RUNNING for t in trials))


def completed_trials(study) -> list:  # noqa: ANN001
    import optuna

    return sorted(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)), key=lambda t: t.number)


def stopped_trials(study) -> list:  # noqa: ANN001
    """Trials ended early by the search's early stopping (Optuna's PRUNED state), in order."""
    import optuna

    return sorted(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.PRUNED,)), key=lambda t: t.number)


@dataclass(frozen=True)
class SearchProgress:
    completed: int  # trials completed (stopped ones count against the budget too)
    budget: int
    running: int  # trials of this study running now (all workers of a shared study)
    failed: int  # trials that ended without a result (outside the table, a network that does not fit, an error)
    front_size: int
    hypervolume: float
    stopped: int = 0  # trials ended early (they could not reach the front)


class _Tracker:
    """The completed trials' keys, values (raw and normalized), feasibility and rung values, the front they make,
    and the stopped trials' keys with the optimistic estimates they were stopped on. Trials are added once each
    (by number), so following a study of many thousand trials costs only its new trials."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.keys: list[str] = []
        self.numbers: list[int] = []
        self.feasible: list[bool] = []
        self.rungs: list[dict[str, float]] = []
        self.stopped: dict[str, np.ndarray] = {}
        self._rows: list[tuple[float, ...]] = []
        self._seen: set[int] = set()  # trial numbers already followed
        self._keys: set[str] = set()
        self._arrays: tuple[np.ndarray, np.ndarray] | None = None

    def update(self, trials: list, stopped: list = ()) -> None:  # noqa: ANN001
        """Follow the study's completed and stopped trials (those not followed yet)."""
        for t in trials:
            if t.number not in self._seen:
                self.add(str(t.user_attrs["key"]), tuple(t.values), all(v <= 0 for v in t.constraints.values()),
                         t.user_attrs.get("rungs", {}), t.number)
        for t in stopped:
            if t.number not in self._seen:
                self._seen.add(t.number)
                self.stop(str(t.user_attrs["key"]), t.user_attrs.get("estimate"))

    def add(self, key: str, values: tuple[float, ...], feasible: bool = True, rungs: dict | None = None,
            number: int = -1) -> None:
        self._seen.add(number)
        self._keys.add(key)
        self.keys.append(key)
        self.numbers.append(number)
        self._rows.append(tuple(float(v) for v in values))
        self.feasible.append(feasible)
        self.rungs.append(dict(rungs or {}))
        self._arrays = None

    @property
    def values(self) -> np.ndarray:
        """Raw values of the completed trials (trials x objectives)."""
        return self._array()[0]

    @property
    def points(self) -> np.ndarray:
        """The same in the normalized minimization space."""
        return self._array()[1]

    def _array(self) -> tuple[np.ndarray, np.ndarray]:
        if self._arrays is None:
            values = np.array(self._rows, dtype=float).reshape(-1, len(self.problem.objectives))
            self._arrays = values, self.problem.normalize(values)
        return self._arrays

    @property
    def ended(self) -> int:
        """Trials that count against the budget: completed, and stopped early (as Optuna's n_trials counts pruned)."""
        return len(self.keys) + len(self.stopped)

    def holds(self, key: str) -> bool:
        """Whether a followed trial completed or stopped with this key."""
        return key in self._keys or key in self.stopped

    def stop(self, key: str, estimate: list[float] | None) -> None:
        if estimate is not None and len(estimate) == len(self.problem.objectives):
            self.stopped[key] = self.problem.normalize(np.array(estimate, dtype=float))[0]
        else:
            self.stopped.setdefault(key, np.full(len(self.problem.objectives), np.nan))

    def judge(self, config: EarlyStopping) -> Judge:
        return Judge(config, [s.direction for s in self.problem.objectives], self.problem.normalize, self.values,
                     np.array(self.feasible, dtype=bool), self.rungs)

    def front(self) -> tuple[int, float]:
        if not len(self.keys):
            return 0, 0.0
        mask = nondominated(self.points)
        return int(mask.sum()), hypervolume(self.points[mask], self.problem.reference_point)


def run_search(problem: Problem, config: SearchConfig, progress: ProgressFn | None = None, *,
               worker: bool = False, proposer: GuidedProposer | None = None) -> SearchResult:
    """Run (or resume) a search until the study holds `config.trials` trials that ended: completed, or stopped early.

    A worker joins an existing study (another process may be running trials of it); otherwise the study is
    created or resumed. Either way, trials whose process died (heartbeat stopped) are failed and retried once. With
    config.predictor, `proposer` (built from the problem's pool when not given) picks what to evaluate."""
    import optuna

    study = open_study(problem, config, create=not worker)
    fail_stale_trials(study)  # a dead process's trials: failed and asked once more (a live process's keep beating)
    checked = time.monotonic()
    dists = problem.distributions()
    if config.predictor and proposer is None:
        proposer = GuidedProposer(problem.pool(config.seed), problem.reference_point, config.guidance, config.seed)
    track = _Tracker(problem)
    track.update(completed_trials(study), stopped_trials(study))
    attempts, queue, misses, failed = 0, [], 0, 0
    rng = np.random.default_rng(config.seed)
    while track.ended < config.trials:
        attempts += 1
        if attempts > 50 * config.trials + 1000:
            raise ConfigError(f"trials: the sampler proposed mostly candidates the evaluator cannot take; "
                              f"{track.ended} of {config.trials} ended")
        if config.storage is not None and time.monotonic() - checked > config.heartbeat_s:
            fail_stale_trials(study)
            checked = time.monotonic()
        if proposer is not None:
            if not queue:
                index = proposer.pool.index
                seen = [(index[k], i) for i, k in enumerate(track.keys) if k in index]
                observed = track.points[[i for _, i in seen]]
                ended = [(index[k], p) for k, p in track.stopped.items() if k in index and np.isfinite(p).all()]
                if ended:  # a stopped trial is known to be at most as good as the estimate it was stopped on
                    seen += [(c, -1) for c, _ in ended]
                    observed = np.vstack([observed, np.array([p for _, p in ended])])
                queue = [c for c in proposer.next_batch([c for c, _ in seen], observed, config.trials - track.ended)
                         if not track.holds(proposer.pool.keys[c])]
                if not queue:
                    break  # the pool is exhausted
            pick = queue.pop(0)
            if track.holds(proposer.pool.keys[pick]):
                continue  # another worker of a shared study evaluated it meanwhile
            study.enqueue_trial(proposer.pool.params[pick], user_attrs={"key": proposer.pool.keys[pick]})
        elif misses >= MAX_MISSES and hasattr(problem, "rows"):  # a table the sampler keeps missing: one random row
            study.enqueue_trial(problem.params_of(int(rng.choice(problem.rows))))
        trial = study.ask(dists)
        full = False
        with heartbeat(study, trial):  # from its first moment: a trial whose process dies goes stale, then retried
            candidate = problem.candidate(trial.params)
            if candidate is None:  # outside the table, or a network that does not fit the input: not an evaluation
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
                misses, failed = misses + 1, failed + 1
                continue
            misses = 0
            running = 1
            key = problem.key(candidate)
            if trial.user_attrs.get("key") != key:
                trial.set_user_attr("key", key)  # from now on other workers see what this trial evaluates
            taken = track.holds(key)
            if config.storage is not None:
                slot = _slot(study, trial.number, config.trials, key)
                track.update(slot.completed, slot.stopped)  # other workers' results count too
                full = not slot.free  # other processes' running trials fill the budget: this one is not needed
                taken, running = slot.taken or track.holds(key), slot.running
            if full or taken:  # taken: evaluated, stopped, or being evaluated elsewhere; a duplicate is no new trial
                if not full:
                    trial.set_user_attr("duplicate", True)
                    failed += 1
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
            else:
                if progress is not None:
                    size, hv = track.front()
                    progress(SearchProgress(len(track.keys), config.trials, running, failed, size, hv,
                                            len(track.stopped)))
                if not _evaluate_and_tell(study, trial, problem, candidate, config, track):
                    failed += 1
                    continue
        if full and not _await_room(study, config.trials, config.heartbeat_s):
            break
        if full or taken:
            continue
        if progress is not None:
            size, hv = track.front()
            progress(SearchProgress(len(track.keys), config.trials, 0, failed, size, hv, len(track.stopped)))
    return search_result(study, problem, config.study)


def _evaluate_and_tell(study, trial, problem: Problem, candidate, config: SearchConfig,  # noqa: ANN001
                       track: _Tracker) -> bool:
    """Evaluate the trial's candidate and tell the study: completed, or stopped early by the judge. False when the
    evaluator refused the candidate (recorded as failed), or when another process declared this trial stale while
    it ran (its retry is evaluated there; this result is dropped, never told twice)."""
    import optuna

    judge = track.judge(config.stopping) if config.stopping is not None else None
    try:
        if judge is not None:
            ev = problem.evaluate(candidate, judge.stop, config.stopping.rungs)
        else:
            ev = problem.evaluate(candidate)
    except ParetonetError as e:  # e.g. a variant the evaluator cannot build: recorded, the search goes on
        trial.set_user_attr("error", str(e))
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        return False
    except BaseException:
        study.tell(trial, state=optuna.trial.TrialState.FAIL)  # Ctrl-C: the trial is retried on resume
        study.enqueue_trial(trial.params)
        raise
    try:
        for name, value in {**ev.attrs, "worker": WORKER}.items():
            trial.set_user_attr(name, value)
        if ev.stopped_at is not None and judge is not None:
            trial.set_user_attr("stopped_at", ev.stopped_at)
            trial.set_user_attr("estimate", [float(v) for v in judge.last_estimate])
            trial.set_user_attr("dominated_by", [track.numbers[i] for i in judge.stopped_by])
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            track.stop(ev.key, list(judge.last_estimate))
        else:
            for c, v in zip(problem.constraints, ev.violations):
                trial.set_constraint(str(c), v)  # Optuna: <= 0 is feasible
            study.tell(trial, list(ev.values))
            track.add(ev.key, ev.values, all(v <= 0 for v in ev.violations), ev.attrs.get("rungs"), trial.number)
    except optuna.exceptions.UpdateFinishedTrialError:
        return False
    return True


def _await_room(study, budget: int, poll_s: float) -> bool:  # noqa: ANN001
    """Wait while other processes' running trials fill the budget: False once the budget is met, True when there is
    room again (a dead process's trial went stale: failed, and asked once more)."""
    import optuna

    state = optuna.trial.TrialState
    while True:
        fail_stale_trials(study)
        trials = study.get_trials(deepcopy=False, states=(state.COMPLETE, state.PRUNED, state.RUNNING))
        if sum(t.state != state.RUNNING for t in trials) >= budget:
            return False
        if len(trials) < budget:
            return True
        time.sleep(poll_s)


def total_violation(trial, problem: Problem) -> float:  # noqa: ANN001
    """How far a trial is from meeting every constraint: each violation relative to its bound (absolute where the
    bound is 0), summed; 0 for a feasible trial."""
    return float(sum(trial.constraints.get(str(c), 0.0) / (abs(c.bound) or 1.0) for c in problem.constraints))


def search_result(study, problem: Problem, name: str) -> SearchResult:  # noqa: ANN001
    """The completed trials in order and the front of the feasible ones (each key once); when none is feasible,
    the least-violating trials instead (each key once)."""
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
    closest: list[int] = []
    if trials and not kept:
        once = {str(t.user_attrs["key"]): t for t in reversed(trials)}  # the first trial of each key
        ranked = sorted(once.values(), key=lambda t: (total_violation(t, problem), t.number))
        closest = [t.number for t in ranked[:LEAST_VIOLATING]]
    return SearchResult(tuple(t.number for t in trials), tuple(str(t.user_attrs["key"]) for t in trials),
                        tuple(t.number for t in front), tuple(str(t.user_attrs["key"]) for t in front),
                        hypervolume(pts[mask], problem.reference_point) if len(pts) else 0.0, name, tuple(closest))


def run_table_search(problem: TableProblem, config: SearchConfig, progress: ProgressFn | None = None, *,
                     worker: bool = False) -> SearchResult:
    return run_search(problem, config, progress, worker=worker)
