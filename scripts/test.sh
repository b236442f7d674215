#!/usr/bin/env bash
# Install the product with its test extras (and Debian's chromium for the
# browser tests), then run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -e ".[test]"
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null
  else
    (sudo apt-get update -qq && sudo apt-get install -y -qq chromium) >/dev/null
  fi
fi
exec python -m pytest -q -p no:cacheprovider "$@"
