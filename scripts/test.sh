#!/usr/bin/env bash
# Run the whole suite. The test session starts its own OpenSearch node on a free port and stops it
# at the end, also when tests fail. pytest's "no tests collected" (exit 5) is a failure here.
set -uo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "test: no tests were collected" >&2
  exit 1
fi
exit "$rc"
