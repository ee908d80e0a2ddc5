#!/usr/bin/env bash
# `make run`: a Temporal dev server (state in .run/, Web UI on 127.0.0.1:8233),
# then the dr-syncer worker and controller against the current kubeconfig.
# With no kubeconfig at all, a throwaway local kube-apiserver stands in.
#
#   hack/run.sh          start, print where to look, wait for Ctrl-C
#   hack/run.sh stop     stop what a detached run started
#
# Environment: TEMPORAL_PORT (7233), TEMPORAL_UI_PORT (8233), RUN_STATE (.run),
# RUN_DETACH=1 (start and return), RUN_LOCAL_CLUSTER=1 (ignore any kubeconfig).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=${DRSYNCER_BIN:-${DRSYNCER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dr-syncer}/bin}
state=${RUN_STATE:-$root/.run}
port=${TEMPORAL_PORT:-7233}
ui_port=${TEMPORAL_UI_PORT:-8233}
metrics_port=${WORKER_METRICS_PORT:-9090}
controller_metrics_port=${CONTROLLER_METRICS_PORT:-8080}
probe_port=${CONTROLLER_PROBE_PORT:-8081}

say() { printf 'run: %s\n' "$*" >&2; }
die() { say "$*"; stop_all; exit 1; }

stop_all() {
	local f pid
	for f in "$state"/*.pid; do
		[ -e "$f" ] || continue
		pid=$(cat "$f")
		kill -TERM "$pid" 2>/dev/null || true
	done
	for f in "$state"/*.pid; do
		[ -e "$f" ] || continue
		pid=$(cat "$f")
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$pid" 2>/dev/null || true
		rm -f "$f"
	done
}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

http_ok() { # http_ok PORT PATH: true when GET answers 200
	local line
	exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
	printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3
	read -r -t 5 line <&3 || { exec 3<&-; return 1; }
	exec 3<&-
	[[ $line == *" 200 "* ]]
}

wait_for() { # wait_for SECONDS WHAT CMD...
	local deadline=$((SECONDS + $1)) what=$2
	shift 2
	local f
	until "$@" 2>/dev/null; do
		[ $SECONDS -lt $deadline ] || die "$what did not come up; see the logs in $state"
		for f in "$state"/*.pid; do
			[ -e "$f" ] || continue
			kill -0 "$(cat "$f")" 2>/dev/null || die "$(basename "$f" .pid) exited; see $state/$(basename "$f" .pid).log"
		done
		sleep 0.3
	done
}

start() { # start NAME CMD...: runs CMD in the background, logging to $state/NAME.log
	local name=$1
	shift
	setsid "$@" >"$state/$name.log" 2>&1 &
	echo $! >"$state/$name.pid"
}

if [ "${1:-}" = stop ]; then
	stop_all
	say "stopped"
	exit 0
fi

for tool in temporal kubectl etcd kube-apiserver; do
	[ -x "$bin/$tool" ] || { say "$tool not found in $bin: run \`make tools\`"; exit 1; }
done
for b in worker controller drsyncer; do
	[ -x "$root/bin/$b" ] || { say "bin/$b not found: run \`make build\`"; exit 1; }
done
mkdir -p "$state"
for f in "$state"/*.pid; do
	[ -e "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && { say "already running (see $state); stop it with \`make stop\`"; exit 1; }
done
for p in "$port" "$ui_port" "$metrics_port" "$controller_metrics_port" "$probe_port"; do
	listening "$p" && { say "port $p on 127.0.0.1 is taken; stop what uses it or set TEMPORAL_PORT/TEMPORAL_UI_PORT/..."; exit 1; }
done

say "starting Temporal dev server (state in $state/temporal.db)"
start temporal "$bin/temporal" server start-dev --ip 127.0.0.1 --port "$port" --ui-port "$ui_port" \
	--db-filename "$state/temporal.db" --log-level warn \
	--sqlite-pragma journal_mode=wal --sqlite-pragma synchronous=normal # no disk sync per commit
address=127.0.0.1:$port
temporal_flags=(--temporal-address "$address" --temporal-namespace default)
wait_for 60 "Temporal" "$root/bin/drsyncer" "${temporal_flags[@]}" setup

kubeconfig=${KUBECONFIG:-$HOME/.kube/config}
if [ "${RUN_LOCAL_CLUSTER:-}" = 1 ] || [ ! -s "${kubeconfig%%:*}" ]; then
	say "no kubeconfig found; starting a local kube-apiserver for the controller"
	CGO_ENABLED=0 go build -o "$root/bin/localkube" ./hack/localkube
	kubeconfig=$state/kubeconfig
	rm -f "$kubeconfig"
	start localkube "$root/bin/localkube" --assets "$bin" --crds deploy/crd --kubeconfig "$kubeconfig"
	wait_for 60 "the local kube-apiserver" test -s "$kubeconfig"
fi
kubectl=("$bin/kubectl" --kubeconfig "$kubeconfig" --request-timeout 10s)
"${kubectl[@]}" version >/dev/null 2>&1 || die "the cluster in $kubeconfig is not reachable; fix KUBECONFIG or unset it to use a local API server"
say "installing the CRDs and namespace dr-syncer-system"
"${kubectl[@]}" apply --server-side --force-conflicts -f deploy/crd >/dev/null
"${kubectl[@]}" create namespace dr-syncer-system --dry-run=client -o yaml | "${kubectl[@]}" apply -f - >/dev/null

common=(--kubeconfig "$kubeconfig" "${temporal_flags[@]}" --log-format console)
start worker "$root/bin/worker" "${common[@]}" --metrics-addr "127.0.0.1:$metrics_port"
start controller "$root/bin/controller" "${common[@]}" --metrics-addr "127.0.0.1:$controller_metrics_port" \
	--health-probe-addr "127.0.0.1:$probe_port"
wait_for 60 "the worker" http_ok "$metrics_port" /metrics
wait_for 60 "the controller" http_ok "$probe_port" /readyz

cat <<EOT

dr-syncer is running.
  Temporal Web UI   http://127.0.0.1:$ui_port
  Temporal address  $address     e.g. $bin/temporal workflow list --address $address
  dr-syncer CLI     bin/drsyncer --temporal-address $address list
  Kubernetes        KUBECONFIG=$kubeconfig   (apply deploy/samples/*.yaml to define clusters and replications)
  Metrics           worker http://127.0.0.1:$metrics_port/metrics, controller http://127.0.0.1:$controller_metrics_port/metrics
  Logs              $state/{temporal,worker,controller}.log

EOT
if [ "${RUN_DETACH:-}" = 1 ]; then
	say "detached; stop everything with \`make stop\`"
	exit 0
fi
say "press Ctrl-C to stop everything"
trap 'stop_all; say "stopped"; exit 0' INT TERM
while true; do
	for f in "$state"/*.pid; do
		[ -e "$f" ] || continue
		kill -0 "$(cat "$f")" 2>/dev/null || die "$(basename "$f" .pid) exited; see $state/$(basename "$f" .pid).log"
	done
	sleep 2
done
