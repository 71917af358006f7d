from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from paretonet._threads import SPIN_COUNT, run_independent

SPIN_IN_CHILD = "import os, paretonet.cli; print(os.environ.get('GOMP_SPINCOUNT'))"


@pytest.mark.parametrize(("env", "expected"), [({}, str(SPIN_COUNT)), ({"GOMP_SPINCOUNT": "5"}, "5"),
                                               ({"OMP_WAIT_POLICY": "active"}, "None")])
def test_the_cli_shortens_openmp_spinning_unless_the_user_chose(env, expected):
    """The CLI sets libgomp's spin count before torch loads; a wait policy or spin count the user set wins."""
    base = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    out = subprocess.run([sys.executable, "-c", SPIN_IN_CHILD], env={**base, **env}, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == expected


def test_independent_jobs_keep_their_order_and_run_side_by_side():
    barrier = threading.Barrier(2, timeout=10)  # only passes if two jobs run at the same time

    def job(i: int) -> int:
        if i < 2:
            barrier.wait()
        return i * i

    assert run_independent([lambda i=i: job(i) for i in range(6)], threads=2) == [0, 1, 4, 9, 16, 25]
    assert run_independent([lambda: 7], threads=1) == [7]


def test_surrogate_members_fitted_side_by_side_equal_one_by_one():
    """An ensemble fitted on two worker threads is the ensemble fitted on one: same members, same order."""
    from paretonet.predict import Surrogate

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(120, 5)), rng.normal(size=(120, 2))
    kw = {"n_estimators": 40, "n_members": 3, "random_state": 1}
    one, two = Surrogate(n_jobs=1, **kw).fit(X, y), Surrogate(n_jobs=2, **kw).fit(X, y)
    assert np.array_equal(one.predict(X), two.predict(X)) and np.array_equal(one.predict_std(X), two.predict_std(X))
    assert np.all(one.predict_std(X) > 0)  # the members differ: their order matters and was kept
