#!/usr/bin/env bash
# Proves the README's first command: `make run` brings up Temporal with its
# Web UI, the worker polling its task queue and a ready controller, and
# `make stop` leaves none of them running. Uses free ports and its own state
# folder, so it runs beside a developer's own `make run`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=${DRSYNCER_BIN:-${DRSYNCER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dr-syncer}/bin}

# Ports come from below the kernel's ephemeral range: a port in it may be
# handed to some client's outgoing connection (Temporal's own, etcd's)
# between this check and the bind, which once failed this test.
ephemeral_low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
[ "$ephemeral_low" -gt 11000 ] || ephemeral_low=32768
free_port() { # a random port nothing on 127.0.0.1 listens on
	local p
	while true; do
		p=$((10000 + RANDOM % (ephemeral_low - 10000)))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
}
export RUN_STATE RUN_DETACH=1 RUN_LOCAL_CLUSTER=1
RUN_STATE=$(mktemp -d)
export TEMPORAL_PORT=$(free_port) TEMPORAL_UI_PORT=$(free_port) WORKER_METRICS_PORT=$(free_port)
export CONTROLLER_METRICS_PORT=$(free_port) CONTROLLER_PROBE_PORT=$(free_port)
fail() { echo "run-smoke: FAIL: $*" >&2; tail -n 20 "$RUN_STATE"/*.log >&2 || true; hack/run.sh stop || true; exit 1; }

make -s build
hack/run.sh >"$RUN_STATE/run.out" 2>&1 || fail "make run did not start: $(cat "$RUN_STATE/run.out")"
pids=$(cat "$RUN_STATE"/*.pid)

grep -q "Temporal Web UI   http://127.0.0.1:$TEMPORAL_UI_PORT" "$RUN_STATE/run.out" || fail "the banner does not name the Web UI"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$TEMPORAL_UI_PORT/") || true
[ "$code" = 200 ] || fail "Web UI answered $code"
curl -sf "http://127.0.0.1:$CONTROLLER_PROBE_PORT/readyz" >/dev/null || fail "controller not ready"
# Output is read whole before grep: with pipefail, `grep -q` closing the pipe
# early makes the writer die of SIGPIPE and the check fail although it matched.
worker_metrics() { curl -sf "http://127.0.0.1:$WORKER_METRICS_PORT/metrics" || true; }
queue() { "$bin/temporal" task-queue describe --task-queue dr-syncer --address "127.0.0.1:$TEMPORAL_PORT" 2>/dev/null || true; }
# The SDK reports its poller gauge once a poll has started: give it a moment.
for _ in $(seq 50); do
	grep -q '^drsyncer_worker_temporal_num_pollers' <<<"$(worker_metrics)" && break
	sleep 0.2
done
grep -q '^drsyncer_worker_temporal_num_pollers' <<<"$(worker_metrics)" || fail "worker metrics lack the SDK's poller gauge"
for _ in $(seq 50); do
	grep -q '^  UNVERSIONED  activity' <<<"$(queue)" && break
	sleep 0.2
done
[[ $(grep -A3 '^Pollers' <<<"$(queue)") == *workflow* ]] || fail "no worker polls the dr-syncer task queue"
listing=$(bin/drsyncer --temporal-address "127.0.0.1:$TEMPORAL_PORT" list 2>&1) || fail "drsyncer list failed: $listing"
grep -q "no dr-syncer workflows" <<<"$listing" || fail "drsyncer list printed: $listing"

hack/run.sh stop >/dev/null 2>&1
for pid in $pids; do
	kill -0 "$pid" 2>/dev/null && fail "process $pid still runs after make stop"
done
rm -rf "$RUN_STATE"
echo "run-smoke: make run and make stop work"
