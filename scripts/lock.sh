#!/usr/bin/env bash
# Refresh requirements.lock: resolve every direct and transitive dependency of the
# product with all its extras in a throw-away virtualenv, then freeze it.
#   bash scripts/lock.sh          (Python 3.11 on Linux x86_64 is what the lock is made for)
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q -U pip
# shellcheck source=scripts/llama-build-flags.sh
source scripts/llama-build-flags.sh
"$tmp/venv/bin/pip" install -q -e ".[test,local-llm]"
{
  echo "# Pinned versions of every dependency of rag-news with the extras test and local-llm,"
  echo "# resolved by scripts/lock.sh for $("$tmp/venv/bin/python" -c 'import platform; print("CPython", platform.python_version(), platform.system(), platform.machine())')."
  echo "# Used as a constraints file: pip install -c requirements.lock -e '.[test]'"
  "$tmp/venv/bin/pip" freeze --exclude-editable | grep -v '^-e ' | sort -f
} > requirements.lock
echo "wrote requirements.lock ($(grep -vc '^#' requirements.lock) packages)"
