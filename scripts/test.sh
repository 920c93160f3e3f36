#!/usr/bin/env bash
# Set up (idempotent) and run the whole test suite. Extra arguments go to pytest.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
if [ "${CI:-}" = "true" ]; then export ASC_TOOL_REQUIRE_TOOLCHAIN=1; fi
.venv/bin/python -m pytest -q --durations=15 "$@"
rc=$?
if [ $rc -eq 5 ]; then echo "error: pytest collected no tests — that is a failure, not a pass" >&2; exit 1; fi
exit $rc
