#!/usr/bin/env bash
# paretonet quick start.
#   ./run.sh          set up .venv (idempotent) and run the main job (a search on the built-in digits data)
#   ./run.sh test     set up .venv (idempotent) and run the test suite
#   ./run.sh setup    set up only
set -euo pipefail
cd "$(dirname "$0")"
VENV=${PARETONET_VENV:-.venv}
PY=${PYTHON:-python3}

setup() {
  if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "paretonet needs Python >= 3.11 ($PY is older)" >&2; exit 2; }
    "$PY" -m venv "$VENV"
  fi
  # Reinstall only when the dependency files changed since the last setup.
  local stamp
  stamp=$(cat pyproject.toml constraints.txt requirements-crosscheck.txt | sha256sum | cut -c1-32)
  if [ "$(cat "$VENV/.paretonet-setup" 2>/dev/null || true)" != "$stamp" ]; then
    "$VENV/bin/python" -m pip install --quiet -c constraints.txt -e ".[dev]"
    # Peer libraries the cross-check tests compare against; --no-deps because torchattacks
    # declares torchvision, which would drag in a CUDA torch (it imports only torch).
    "$VENV/bin/python" -m pip install --quiet --no-deps -r requirements-crosscheck.txt
    # An unpinned torch would have pulled a CUDA build; the constraint must keep the CPU 2.13.0.
    "$VENV/bin/python" -c 'import torch, sys; v = torch.__version__; sys.exit(0 if v.startswith("2.13.0") else f"torch {v} installed, expected 2.13.0")'
    echo "$stamp" > "$VENV/.paretonet-setup"
  fi
}

setup
case "${1:-run}" in
  run)
    mkdir -p runs
    # the main job: a predictor-guided search of LeNets and their hardware variants on digits
    # (accuracy, worst-case robust accuracy, energy, size); prints the front and writes the report
    "$VENV/bin/paretonet" search --output runs/search
    ;;
  test)
    shift
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  setup) ;;
  *) echo "usage: ./run.sh [run|test [pytest args]|setup]" >&2; exit 2 ;;
esac
