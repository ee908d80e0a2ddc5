#!/usr/bin/env bash
# Tears the lab down: removes every process, mount, namespace, link, cgroup, log link
# and file the lab made (see up.sh), and nothing else. Processes are ended by the PIDs
# the lab recorded or by membership of the lab's own namespaces and cgroups, never by
# name. Safe to run with the lab down or half up.
#
#   hack/lab/down.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

need_root
START=$SECONDS
clusters=$LAB_CLUSTERS
[ -f "$LAB/clusters" ] && clusters=$(cat "$LAB/clusters")
for d in "$LAB"/*/; do # clusters of an earlier LAB_CLUSTERS, too
	[ -f "${d}cluster.env" ] || continue
	case " $clusters " in *" $(basename "$d") "*) ;; *) clusters="$clusters $(basename "$d")" ;; esac
done

stop_pidfiles() { # stop_pidfiles [-t TENTHS] FILE...: TERM all, KILL what is left after 5s (or -t)
	local f pid i alive tenths=50
	if [ "$1" = -t ]; then tenths=$2; shift 2; fi
	for f in "$@"; do
		pid=$(pid_alive "$f") && kill -TERM "$pid" 2>/dev/null || true
	done
	for i in $(seq "$tenths"); do
		alive=""
		for f in "$@"; do pid_alive "$f" >/dev/null && alive="$alive $f"; done
		[ -z "$alive" ] && break
		sleep 0.1
	done
	for f in "$@"; do
		pid=$(pid_alive "$f") && kill -KILL "$pid" 2>/dev/null || true
		rm -f "$f"
	done
}

cgroup_pids() { # every process in the node's cgroup tree (pods), in any hierarchy
	local h
	for h in /sys/fs/cgroup/*/"$C_CGROUP"; do
		[ -d "$h" ] && find "$h" -name cgroup.procs -exec cat {} + 2>/dev/null
	done | sort -un
}

netns_pids() { # every process in the node's network namespace
	local ino p
	[ -e "/run/netns/$C_NETNS" ] || return 0
	ino=$(stat -L -c %i "/run/netns/$C_NETNS" 2>/dev/null) || return 0
	for p in /proc/[0-9]*; do
		[ "$(stat -L -c %i "$p/ns/net" 2>/dev/null)" = "$ino" ] && echo "${p#/proc/}"
	done
	return 0
}

shim_pids() { # containerd shims of this node: the parents of its containers' init processes
	local f pid ppid
	for f in "$C_DIR"/containerd/state/io.containerd.runtime.v2.task/*/*/init.pid; do
		pid=$(cat "$f" 2>/dev/null) || continue # the task ended meanwhile
		ppid=$(awk '/^PPid:/ {print $2}' "/proc/$pid/status" 2>/dev/null) || continue
		[ -n "$ppid" ] || continue
		# only a shim that carries this node's containerd address
		[[ $( { tr '\0' ' ' <"/proc/$ppid/cmdline"; } 2>/dev/null) == *containerd-shim*"$C_CTRD_SOCK"* ]] && echo "$ppid"
	done | sort -u
	return 0
}

kill_all() { # kill_all PID...: SIGKILL and wait until they are gone (10s)
	local p i left
	[ $# -gt 0 ] || return 0
	kill -KILL "$@" 2>/dev/null || true
	for i in $(seq 100); do
		left=""
		for p in "$@"; do [ -d "/proc/$p" ] && [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ] && left="$left $p"; done
		[ -z "$left" ] && return 0
		sleep 0.1
	done
	log "warning: processes still alive after SIGKILL:$left"
}

# Phase 1 for a node: everything that runs or watches pods, then the pods, then the
# shims. The control plane goes in phase 2, for all nodes at once.
stop_node() {
	cluster_vars "$1"
	[ -d "$C_DIR" ] || [ -e "/run/netns/$C_NETNS" ] || return 0
	log "$C_NAME: stopping"
	local f
	SHIM_SOCKETS=() SANDBOXES=()
	local sock
	for f in "$C_DIR"/containerd/state/io.containerd.runtime.v2.task/*/*/address; do
		# A task can end while this runs, and its files go with it.
		if sock=$(sed 's|^unix://||' "$f" 2>/dev/null) && [ -n "$sock" ]; then
			SHIM_SOCKETS+=("$sock")
		fi
	done
	for f in "$C_DIR"/containerd/root/io.containerd.grpc.v1.cri/sandboxes/*/; do
		[ -d "$f" ] && SANDBOXES+=("$(basename "$f")")
	done
	local shims
	shims=$(shim_pids)
	stop_pidfiles "$C_DIR"/pids/{provisioner,snapshot-controller,csi-snapshotter,csi-provisioner,kubelet,kube-proxy}.pid
	# The CSI driver outlives the kubelet so that it can answer the kubelet's last calls.
	stop_pidfiles "$C_DIR"/pids/csi-driver.pid
	# shellcheck disable=SC2046
	kill_all $(cgroup_pids)       # pod processes
	# shellcheck disable=SC2086
	kill_all $shims               # their shims
	[ -n "${LAB_TRACE:-}" ] && log "$C_NAME: node stopped at ${SECONDS}s"
	for f in "${SHIM_SOCKETS[@]}"; do
		case $f in /run/containerd/s/*) rm -f "$f" ;; esac
	done
	# CNI result caches of this node's pod sandboxes (libcni keeps them in /var/lib/cni).
	rm -f /var/lib/cni/results/"drlab-$C_NAME"-* 2>/dev/null || true
	for f in "${SANDBOXES[@]}"; do rm -f /var/lib/cni/results/*-"$f"-* 2>/dev/null || true; done
}

sweep_node() { # anything left in the node's namespace or cgroups is the lab's by construction
	cluster_vars "$1"
	# shellcheck disable=SC2046
	kill_all $(netns_pids) $(cgroup_pids)
}

unmount_under() { # unmount_under DIR: every mount below DIR, deepest first
	local m i
	for i in 1 2 3; do
		local mounts
		mounts=$(awk -v p="$1/" 'index($5, p) == 1 {print $5}' /proc/self/mountinfo | sort -r)
		[ -z "$mounts" ] && return 0
		for m in $mounts; do
			m=$(printf '%b' "$m") # mountinfo escapes spaces as \040
			umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
		done
	done
	awk -v p="$1/" 'index($5, p) == 1 {print "  " $5}' /proc/self/mountinfo | grep . >&2 &&
		die "mounts under $1 remain (listed above)"
	return 0
}

remove_cgroups() { # remove_cgroups NAME...: the nodes' cgroup trees in every hierarchy
	local i d left
	for i in $(seq 50); do
		left=""
		for d in "$@"; do
			for d in /sys/fs/cgroup/*/"$d"; do
				[ -d "$d" ] || continue
				find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
				[ -d "$d" ] && left="$left $d"
			done
		done
		[ -z "$left" ] && return 0
		sleep 0.1
	done
	log "warning: could not remove cgroups:$left"
}

# Lab-wide host processes (the demo's Temporal dev server).
[ -d "$LAB/pids" ] && stop_pidfiles "$LAB"/pids/*.pid
for c in $clusters; do stop_node "$c"; done
pidfiles=()
for c in $clusters; do
	for n in containerd kube-scheduler kube-controller-manager kube-apiserver etcd; do
		pidfiles+=("$LAB/$c/pids/$n.pid")
	done
done
stop_pidfiles -t 20 "${pidfiles[@]}" # their state is deleted anyway
[ -n "${LAB_TRACE:-}" ] && log "control planes stopped at ${SECONDS}s"
for c in $clusters; do sweep_node "$c"; done
[ -n "${LAB_TRACE:-}" ] && log "processes stopped at ${SECONDS}s"
[ -d "$LAB" ] && unmount_under "$LAB"
[ -n "${LAB_TRACE:-}" ] && log "unmounted at ${SECONDS}s"
cgroups=()
for c in $clusters; do
	cluster_vars "$c"
	ip link del "$C_VETH" 2>/dev/null || true
	if [ -e "/run/netns/$C_NETNS" ]; then ip netns del "$C_NETNS" || die "ip netns del $C_NETNS failed"; fi
	cgroups+=("$C_CGROUP")
done
[ -n "${LAB_TRACE:-}" ] && log "namespaces removed at ${SECONDS}s"
remove_cgroups "${cgroups[@]}"
[ -n "${LAB_TRACE:-}" ] && log "cgroups removed at ${SECONDS}s"
if ip link show "$LAB_BRIDGE" >/dev/null 2>&1; then
	have=$(cat "/sys/class/net/$LAB_BRIDGE/ifalias" 2>/dev/null || true)
	if [ "$have" = "dr-syncer lab $LAB" ]; then
		ip link del "$LAB_BRIDGE"
	else
		log "warning: leaving bridge $LAB_BRIDGE, it belongs to another lab ($have)"
	fi
fi
# Container log links the kubelet made in /var/log/containers point into our pod-logs.
if [ -d /var/log/containers ]; then
	find /var/log/containers -maxdepth 1 -type l -lname "$LAB/*" -delete
fi
if [ -f "$LAB/host-sysctls" ]; then
	while IFS== read -r k v; do sysctl -qw "$k=$v" || log "warning: could not restore $k=$v"; done <"$LAB/host-sysctls"
fi
if [ -f "$LAB/host-created" ]; then # host folders the lab created, if nothing else uses them now
	while read -r d; do
		case $d in
		/run/netns)
			if [ -d /run/netns ] && [ -z "$(ls -A /run/netns)" ]; then
				umount /run/netns 2>/dev/null || true
				rmdir /run/netns 2>/dev/null || true
			fi ;;
		/run/containerd) rmdir /run/containerd/s /run/containerd 2>/dev/null || true ;;
		/var/lib/cni) rmdir /var/lib/cni/results /var/lib/cni 2>/dev/null || true ;;
		*) rmdir "$d" 2>/dev/null || true ;;
		esac
	done <"$LAB/host-created"
fi
if [ -d "$LAB" ]; then
	unmount_under "$LAB"
	rm -rf --one-file-system "$LAB"
fi
log "lab down in $((SECONDS - START))s"
