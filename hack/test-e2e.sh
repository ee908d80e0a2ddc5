#!/usr/bin/env bash
# The end-to-end tests in the lab, as `make test` runs them: bring the lab up,
# run the tests, and always tear it down and check the host is clean — unless
# a developer already had the lab up outside CI, in which case it stays up.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
keep=""
if [ -z "${CI:-}" ] && [ -e .lab/prod/kubeconfig ]; then
	keep=1
fi
status=0
make -s test-lab || status=$?
if [ -n "$keep" ]; then
	echo "test-e2e: the lab was up before; leaving it up (make lab-down removes it)"
else
	make -s test-lab-down || status=$?
fi
exit $status
