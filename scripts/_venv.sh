# Sourced by scripts/demo and scripts/test: create or refresh the project's own
# virtual environment in .venv, reinstalling only when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

die() { echo "$(basename "$0"): $*" >&2; exit 1; }

PYTHON=${PYTHON:-python3}
command -v "$PYTHON" >/dev/null || die "needs Python 3.11 or newer ('$PYTHON' not found; set PYTHON=...)"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "needs Python 3.11 or newer, '$PYTHON' is $("$PYTHON" -V 2>&1)"

stamp=$(cat pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.retrorun-stamp 2>/dev/null)" != "$stamp" ]; then
  echo "setting up .venv (first run, or pyproject.toml changed) ..." >&2
  "$PYTHON" -m venv .venv || die "cannot create a virtual environment in .venv (is python3-venv installed?)"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev]" \
    || die "installing the project and its dependencies into .venv failed (see pip's output above)"
  echo "$stamp" > .venv/.retrorun-stamp
fi
export PATH="$PWD/.venv/bin:$PATH"
