#!/usr/bin/env bash
# The test command (README, .ci/run): a fresh virtualenv with the product, its test and
# local-llm extras at the versions pinned in requirements.lock, Debian's chromium for the
# browser tests, then the whole suite. Arguments are passed on to pytest.
#   bash .ci/run                      # everything
#   bash .ci/run -k reader -x         # a subset
# RAG_TEST_VENV (default .venv-test) names the virtualenv; it is made anew each run so
# that nothing installed by hand can hide a missing install step.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${RAG_TEST_VENV:-.venv-test}"
PY="${PYTHON:-python3}"
rm -rf "$VENV"
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q -U pip
source scripts/llama-build-flags.sh   # llama-cpp-python is built from source: portable flags
"$VENV/bin/python" -m pip install -q -c requirements.lock -e ".[test,local-llm]"
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null
  else
    (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null
  fi
fi
export PATH="$PWD/$VENV/bin:$PATH"   # the venv's `rag` and `chroma` commands for the tests
# One pytest worker per core, at most 4 (each loads the models: ~1.5 GB), one test file per
# worker so module fixtures are built once: 653 s instead of 858 s on 2 cores (2026-11-26).
# `-n 0` in the arguments runs everything in one process.
# More workers than cores did not help: -n 3 on 2 AVX2 cores took 1147 s of pytest against
# 1028 and 1051 s with -n 2 (2026-11-27, same machine): the suite is CPU-bound, each test
# just ran slower.
workers=$(nproc 2>/dev/null || echo 1)
[ "$workers" -gt 4 ] && workers=4
# --durations: the slowest tests are printed at the end of every run, so the next trim starts from figures.
# --no-loadscope-reorder: the longest files start first (tests/conftest.py SLOW_FIRST).
exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider -n "$workers" --dist loadfile --no-loadscope-reorder --durations=30 "$@"
