#!/usr/bin/env bash
# Prints the memory (RSS) of each lab cluster: the processes the lab started, the
# containerd shims, and the pod processes in the node's cgroup tree.
#
#   hack/lab/stats.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ -f "$LAB/clusters" ] || die "lab not up: run \`make lab-up\`"

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

for c in $(cat "$LAB/clusters"); do
	cluster_vars "$c"
	total=0 line=""
	for f in "$C_DIR"/pids/*.pid; do
		pid=$(pid_alive "$f") || continue
		kib=$(rss_kib "$pid"); total=$((total + kib))
		line="$line $(basename "$f" .pid)=$((kib / 1024))M"
	done
	shims=0
	for sp in $(for f in "$C_DIR"/containerd/state/io.containerd.runtime.v2.task/*/*/init.pid; do
		[ -f "$f" ] && awk '/^PPid:/ {print $2}' "/proc/$(cat "$f")/status" 2>/dev/null; done | sort -u); do
		shims=$((shims + $(rss_kib "$sp")))
	done
	pods=0
	for p in $(for h in /sys/fs/cgroup/memory/"$C_CGROUP"; do [ -d "$h" ] && find "$h" -name cgroup.procs -exec cat {} +; done | sort -u); do
		pods=$((pods + $(rss_kib "$p")))
	done
	printf '%s: %d MiB (components %d MiB, shims %d MiB, pod processes %d MiB)\n  %s\n' \
		"$c" $(((total + shims + pods) / 1024)) $((total / 1024)) $((shims / 1024)) $((pods / 1024)) "$line"
done
