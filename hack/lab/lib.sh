# shellcheck shell=bash
# Common settings and helpers for the local two-cluster lab (hack/lab/*.sh).
# Sourced, never run. See hack/lab/README.md for the layout it describes.

ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
DRSYNCER_CACHE=${DRSYNCER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dr-syncer}
BIN=${DRSYNCER_BIN:-$DRSYNCER_CACHE/bin}
LAB=${LAB_DIR:-$ROOT/.lab}              # per-checkout state: kubeconfigs, pids, logs, certs, volumes
LAB_CACHE=$DRSYNCER_CACHE/lab           # heavy, shared across clones: rootfs, image tarballs, binaries
LAB_CLUSTERS=${LAB_CLUSTERS:-prod dr}
LAB_BRIDGE=drlab0
LAB_BRIDGE_IP=10.255.0.1
LAB_IMAGE_PREFIX=${LAB_IMAGE_PREFIX:-localhost/dr-syncer}
LAB_IMAGE_TAG=${LAB_IMAGE_TAG:-lab}
LAB_PAUSE_IMAGE=$LAB_IMAGE_PREFIX/pause:$LAB_IMAGE_TAG
LAB_CSI_DRIVER=hostpath.csi.lab.dr-syncer.io # the lab's CSI driver (test/lab/csidriver)
LAB_TIMEOUT=${LAB_TIMEOUT:-90}          # seconds for any single wait
CNI_BIN=${CNI_BIN:-/usr/lib/cni}
DEBIAN_SUITE=${DEBIAN_SUITE:-bookworm}

export PATH=$BIN:$PATH

log() { printf '\033[1mlab:\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31mlab: error:\033[0m %s\n' "$*" >&2; exit 1; }

need_root() { [ "$(id -u)" = 0 ] || die "the lab needs root (network namespaces, mounts, cgroups); run as root"; }

need_bins() { # need_bins NAME...: the Kubernetes binaries from hack/tools.sh
	local b
	for b in "$@"; do
		[ -x "$BIN/$b" ] || die "$BIN/$b is missing: run \`make tools\` (or DRSYNCER_BIN=<dir>)"
	done
}

need_cmds() { # need_cmds CMD...: Debian packages from hack/deps.sh
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null || die "$c is missing: run \`make deps\` (hack/deps.sh)"
	done
	[ -x "$CNI_BIN/bridge" ] && [ -x "$CNI_BIN/host-local" ] && [ -x "$CNI_BIN/loopback" ] ||
		die "CNI plugins missing in $CNI_BIN: run \`make deps\` (containernetworking-plugins)"
}

# Cluster N (1-based position in LAB_CLUSTERS) gets node IP 10.255.0.1N, pods 10.244.N.0/24
# and services 10.96.N.0/24.
cluster_index() {
	local i=1 c
	for c in $LAB_CLUSTERS; do
		if [ "$c" = "$1" ]; then echo "$i"; return; fi
		i=$((i + 1))
	done
	die "unknown cluster $1 (LAB_CLUSTERS=$LAB_CLUSTERS)"
}

cluster_vars() { # cluster_vars NAME: sets C_* for one cluster
	C_NAME=$1
	C_INDEX=$(cluster_index "$1")
	[ "$C_INDEX" -le 9 ] || die "at most 9 clusters"
	C_DIR=$LAB/$1
	C_NODE=$1-node
	C_NODE_IP=10.255.0.1$C_INDEX
	C_POD_CIDR=10.244.$C_INDEX.0/24
	C_POD_GW=10.244.$C_INDEX.1
	C_SVC_CIDR=10.96.$C_INDEX.0/24
	C_SVC_IP=10.96.$C_INDEX.1
	C_NETNS=drlab-$1
	C_VETH=drlab-v$C_INDEX
	C_CGROUP=drlab-$1
	C_APISERVER=https://$C_NODE_IP:6443
	C_CTRD_SOCK=$C_DIR/containerd/containerd.sock
}

in_ns() { nsenter --net="/run/netns/$C_NETNS" -- "$@"; }

# Process records: $C_DIR/pids/NAME.pid holds "PID STARTTIME" so a recycled PID is never
# mistaken for ours.
proc_start() { awk '{print $22}' "/proc/$1/stat" 2>/dev/null || true; }

pid_alive() { # pid_alive PIDFILE: prints the PID if the recorded process still runs
	local f=$1 pid st
	[ -f "$f" ] || return 1
	read -r pid st <"$f" || return 1
	[ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
	[ "$(proc_start "$pid")" = "$st" ] || return 1
	echo "$pid"
}

daemon_key() { # daemon_key CMD...: hash of the command line and the lab files it names
	local a f
	{
		printf '%s\n' "$@"
		for a in "$@"; do
			f=${a#*=}
			case $f in "$LAB"/*) if [ -f "$f" ]; then cat "$f"; fi ;; esac
		done
	} | sha256sum | cut -c1-16
}

# start_daemon NAME CMD...: runs CMD detached (own session, survives the caller) in the
# node's netns, logs to logs/NAME.log, records "PID STARTTIME" in pids/NAME.pid. A
# running daemon is left alone unless its command line or config files changed, in
# which case it is restarted.
start_daemon() { _start_daemon ns "$@"; }
start_host_daemon() { _start_daemon host "$@"; } # same, in the host's netns (provisioner)

_start_daemon() {
	local where=$1 name=$2; shift 2
	local pidf=$C_DIR/pids/$name.pid logf=$C_DIR/logs/$name.log key pid i
	key=$(daemon_key "$@")
	if pid=$(pid_alive "$pidf"); then
		[ "$(cat "$C_DIR/pids/$name.key" 2>/dev/null)" = "$key" ] && return 0
		log "$C_NAME: $name's configuration changed, restarting it"
		kill -TERM "$pid" 2>/dev/null || true
		for i in $(seq 100); do pid_alive "$pidf" >/dev/null || break; sleep 0.1; done
		if pid_alive "$pidf" >/dev/null; then kill -KILL "$pid" 2>/dev/null || true; sleep 0.2; fi
	fi
	mkdir -p "$C_DIR/pids" "$C_DIR/logs"
	if [ "$where" = ns ]; then
		setsid nsenter --net="/run/netns/$C_NETNS" -- "$@" </dev/null >>"$logf" 2>&1 &
	else
		setsid "$@" </dev/null >>"$logf" 2>&1 &
	fi
	pid=$!
	for i in 1 2 3 4 5 6 7 8 9 10; do [ -n "$(proc_start "$pid")" ] && break; sleep 0.01; done
	echo "$pid $(proc_start "$pid")" >"$pidf"
	echo "$key" >"$C_DIR/pids/$name.key"
}

wait_for() { # wait_for WHAT LOGFILE TIMEOUT CMD...: polls CMD until it succeeds
	local what=$1 logf=$2 timeout=$3; shift 3
	local deadline=$((SECONDS + timeout))
	until "$@" >/dev/null 2>&1; do
		if [ $SECONDS -ge $deadline ]; then
			echo "---- last lines of $logf ----" >&2
			tail -n 25 "$logf" >&2 2>/dev/null || true
			die "timed out after ${timeout}s waiting for $what; read $logf"
		fi
		sleep 0.3
	done
}

kc() { kubectl --kubeconfig "$C_DIR/kubeconfig" "$@"; }
