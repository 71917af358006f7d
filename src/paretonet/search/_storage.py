"""A study's database, made to survive what shared databases do: restarts, dead workers, read-only files.

- Connections are checked before use (SQLAlchemy's `pool_pre_ping`), and a storage call that fails because the
  server went away is retried with exponential backoff for a bounded time (`retry_s`), then the command stops
  with one line (a ConfigError) and the study stays as Optuna left it.
- Every running trial has a heartbeat (Optuna's `heartbeat_interval`): a trial is stale only when its process
  stopped beating for `GRACE_BEATS` intervals; whoever reads the study next fails it and retries it once
  (Optuna's RetryHeartbeatStaleTrialCallback). An owner that restarts therefore never fails a live worker's trial.
"""

from __future__ import annotations

import functools
import re
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ..errors import ConfigError

HEARTBEAT_S = 10  # seconds between a running trial's heartbeats
GRACE_BEATS = 3  # missed heartbeats after which a running trial is stale (Optuna's default is 2: a little slack)
STORAGE_RETRY_S = 60.0  # how long a storage call is retried through a database outage
_FIRST_WAIT_S, _LONGEST_WAIT_S = 0.25, 8.0
# RDBStorage's private methods Optuna's cache in front of it calls (optuna 5.0, pinned): retried like public ones
_CACHE_CALLS = ("_create_new_trial", "_get_best_trial_id", "_get_stale_trial_ids", "_get_trials", "_set_trial_param")
_LOCAL_CALLS = ("get_heartbeat_interval", "get_heartbeat_stale_trial_callback", "get_failed_trial_callback",
                "remove_session", "upgrade", "beat")  # no database call, or one that must not be retried


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error and what caused it, outermost first (at most 10: a chain could loop)."""
    e: BaseException | None = error
    for _ in range(10):
        if e is None:
            return
        yield e
        e = e.__cause__ or e.__context__


def _disconnected(error: BaseException) -> bool:
    """Did the call fail because the connection or server went away (worth retrying), not because of what it asked?"""
    import sqlalchemy.exc

    for e in _chain(error):
        if isinstance(e, sqlalchemy.exc.DBAPIError) and e.connection_invalidated:
            return True
        if isinstance(e, (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError)):
            return not _read_only(e)
        if type(e).__module__.startswith("psycopg") and type(e).__name__ in ("OperationalError", "InterfaceError"):
            return True
    return False


def _read_only(error: BaseException) -> bool:
    return "readonly database" in str(error) or "read-only" in str(error)


def read_only_error(error: BaseException, url: str) -> ConfigError | None:
    """A one-line error when a write failed because the study's file or folder is read-only (SQLite says only
    'attempt to write a readonly database'), else None."""
    for e in _chain(error):
        if _read_only(e):
            where = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else mask_url(url)
            return ConfigError(f"storage: {where} is read-only (the file, or the folder SQLite writes its journal "
                               "in); give a writable --output or --storage")
    return None


def _sqlite_error(error: BaseException, url: str) -> ConfigError | None:
    """A SQLite file has no connection to lose: its operational errors (cannot open the file, disk full) are one line,
    not retried (waiting for a locked file is SQLite's own busy timeout)."""
    import sqlalchemy.exc

    if not url.startswith("sqlite"):
        return None
    e = next((e for e in _chain(error) if isinstance(e, sqlalchemy.exc.OperationalError)), None)
    if e is None:
        return None
    detail = str(getattr(e, "orig", None) or e).splitlines()[0]
    return ConfigError(f"storage: {url.removeprefix('sqlite:///')}: {detail}")


def mask_url(url: str) -> str:
    """A database URL with any password replaced by ***, for messages, logs and records."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


_calls = threading.local()  # only the outermost storage call retries: one calling another waits once, not nested


def _with_retries(call: Callable[[], Any], url: str, retry_s: float, what: str, *,  # noqa: ANN401
                  committed: Callable[[BaseException], bool] = lambda e: False) -> Any:
    """call(), retried with exponential backoff for up to `retry_s` seconds while the database is unreachable; then
    one line naming the storage and `what` failed. `committed(e)`: does e on a retry mean the first attempt had
    succeeded (its reply lost with the connection)?"""
    deadline, wait, retried = None, _FIRST_WAIT_S, False
    while True:
        try:
            return call()
        except Exception as e:
            if retried and committed(e):
                return True
            problem = read_only_error(e, url) or _sqlite_error(e, url)
            if problem is not None:
                raise problem from None
            if not _disconnected(e):
                raise
            now = time.monotonic()
            deadline = deadline or now + retry_s
            if now >= deadline:
                raise ConfigError(f"storage: {what} {mask_url(url)}: no answer for {retry_s:g} s (--storage-retry); "
                                  f"{mask_url(str(e).splitlines()[0])[:160]}") from None
            time.sleep(min(wait, deadline - now))
            wait, retried = min(2 * wait, _LONGEST_WAIT_S), True


def _retrying(method: Callable) -> Callable:
    def finished(e: BaseException) -> bool:  # a trial ended twice: the first, lost reply had committed it
        from optuna.exceptions import UpdateFinishedTrialError

        return method.__name__ == "set_trial_state_values" and isinstance(e, UpdateFinishedTrialError)

    @functools.wraps(method)
    def call(self, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN001, ANN401
        if getattr(_calls, "active", False):
            return method(self, *args, **kwargs)
        _calls.active = True
        try:
            return _with_retries(lambda: method(self, *args, **kwargs), self.url, self.retry_s, "cannot reach",
                                 committed=finished)
        finally:
            _calls.active = False
    return call


@functools.cache
def _storage_class() -> type:
    """RDBStorage with its database calls retried (built once: Optuna is imported on first use)."""
    from optuna.storages import RDBStorage

    class RetryingRDBStorage(RDBStorage):
        def beat(self, trial_id: int) -> None:
            """One heartbeat, not retried: the next beat is the retry."""
            RDBStorage.record_heartbeat(self, trial_id)

        def _get_stale_trial_ids(self, study_id: int) -> list[int]:
            """Optuna's stale trials, and the running ones that never beat (a process killed between creating a
            trial and its first heartbeat) once the grace period has passed since they started."""
            return RDBStorage._get_stale_trial_ids(self, study_id) + _never_beat(self, study_id)

    for name in dir(RDBStorage):
        attr = getattr(RetryingRDBStorage, name)
        if callable(attr) and (not name.startswith("_") or name in _CACHE_CALLS) and name not in _LOCAL_CALLS:
            setattr(RetryingRDBStorage, name, _retrying(attr))
    # Optuna warns that heartbeats are meant for Study.optimize: this ask-and-tell loop beats itself (`heartbeat`)
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
    return RetryingRDBStorage


def retrying_storage(url: str, retry_s: float = STORAGE_RETRY_S, heartbeat_s: int = HEARTBEAT_S):  # noqa: ANN201
    """Optuna's RDBStorage for `url` with pre-pinged connections, retried calls and trial heartbeats."""
    import optuna
    from optuna.storages import RetryHeartbeatStaleTrialCallback

    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 60}  # SQLite serializes writers: wait for the lock, do not fail

    def connect():  # noqa: ANN202 - a worker may start while the server restarts: waited out like any call
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeats: experimental
            return _storage_class()(url, engine_kwargs=kwargs, heartbeat_interval=heartbeat_s,
                                    grace_period=GRACE_BEATS * heartbeat_s,
                                    heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1))

    storage = _with_retries(connect, url, retry_s, "cannot open")
    storage.retry_s = retry_s
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return storage


def _never_beat(storage, study_id: int) -> list[int]:  # noqa: ANN001
    import datetime

    import sqlalchemy
    from optuna.storages._rdb import models  # the schema of the pinned Optuna (constraints.txt)
    from optuna.trial import TrialState

    trials, beats = models.TrialModel.__table__, models.TrialHeartbeatModel.__table__
    since = datetime.datetime.now() - datetime.timedelta(seconds=storage.grace_period)  # noqa: DTZ005 - as Optuna
    query = (sqlalchemy.select(trials.c.trial_id)
             .where(trials.c.study_id == study_id, trials.c.state == TrialState.RUNNING,
                    trials.c.datetime_start < since)
             .where(~sqlalchemy.exists().where(beats.c.trial_id == trials.c.trial_id)))
    with storage.engine.connect() as connection:
        return [row[0] for row in connection.execute(query)]


def fail_stale_trials(study) -> None:  # noqa: ANN001
    """Fail the trials whose heartbeat stopped and enqueue each once more (in-memory studies have none)."""
    import optuna
    from optuna.storages import fail_stale_trials as optuna_fail_stale

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna_fail_stale(study)


@contextmanager
def heartbeat(study, trial) -> Iterator[None]:  # noqa: ANN001
    """While the block runs, the trial beats every heartbeat interval (first beat now, before any work); a beat that
    fails is skipped, the next one tries again (a long outage makes the trial stale: it is then retried)."""
    storage = getattr(study._storage, "_backend", study._storage)  # Optuna caches an RDBStorage in front of it
    interval = storage.get_heartbeat_interval() if hasattr(storage, "beat") else None
    if interval is None:
        yield
        return
    storage.record_heartbeat(trial._trial_id)  # retried: a trial must beat once to be ever found stale
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval):
            try:
                storage.beat(trial._trial_id)
            except Exception:  # noqa: BLE001, S110 - best effort; the main thread reports a lasting outage
                pass

    thread = threading.Thread(target=beat, name=f"heartbeat-{trial.number}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
