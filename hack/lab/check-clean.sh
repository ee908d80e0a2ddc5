#!/usr/bin/env bash
# Asserts that no trace of the lab is left on the host: no lab process, mount, network
# namespace, link, route, cgroup, iptables rule, container log link or state folder.
# Exits 1 and lists every leftover otherwise. Run it after `make lab-down`.
#
#   hack/lab/check-clean.sh
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
need_root

fail=0
leftover() { printf 'leftover %s\n' "$*" >&2; fail=1; }

# Processes: anything running a lab binary or pointing at the lab's folders.
for p in /proc/[0-9]*; do
	pid=${p#/proc/}
	[ "$pid" = $$ ] && continue
	cmd=$( { tr "\0" " " <"$p/cmdline"; } 2>/dev/null) || continue
	exe=$(readlink "$p/exe" 2>/dev/null || true)
	case "$cmd $exe" in
	*"$LAB/"* | *"$LAB_CACHE/build/"*)
		case $cmd in *check-clean.sh*) continue ;; esac
		leftover "process $pid: $cmd" ;;
	esac
done

# Mounts: under the lab folder, pod namespaces, overlay rootfs of lab containers.
while read -r line; do leftover "mount $line"; done < <(
	awk -v p="$LAB/" -v c="$LAB_CACHE/" 'index($5, p) == 1 || index($5, c) == 1 {print $5}' /proc/self/mountinfo)
while read -r line; do leftover "loop device $line"; done < <(losetup -a 2>/dev/null | grep -F -e "$LAB/" -e "$LAB_CACHE/")

# Network: namespaces, links, routes.
while read -r ns _; do
	case $ns in drlab-* | cni-*) leftover "network namespace $ns" ;; esac
done < <(ip netns list 2>/dev/null)
while read -r _ link _; do
	link=${link%:}; link=${link%@*}
	case $link in drlab* | cni0 | veth*) leftover "link $link" ;; esac
done < <(ip -o link show)
while read -r line; do leftover "route $line"; done < <(ip route show | grep -E '10\.244\.|10\.96\.|10\.255\.0\.|drlab')

# iptables and nftables on the host: no Kubernetes or CNI chains, no lab addresses.
for t in iptables-save ip6tables-save iptables-legacy-save ip6tables-legacy-save; do
	command -v "$t" >/dev/null || continue
	while read -r line; do leftover "$t: $line"; done < <("$t" 2>/dev/null | grep -E 'KUBE-|CNI-|10\.244\.|10\.96\.|10\.255\.0\.|drlab')
done
if command -v nft >/dev/null; then
	while read -r line; do leftover "nft: $line"; done < <(nft list ruleset 2>/dev/null | grep -E 'KUBE-|CNI-|10\.244\.|10\.96\.|drlab')
fi

# cgroups, log links, CNI state, folders.
for d in /sys/fs/cgroup/*/drlab-*; do [ -e "$d" ] && leftover "cgroup $d"; done
if [ -d /var/log/containers ]; then
	while read -r l; do leftover "log link $l"; done < <(find /var/log/containers -maxdepth 1 -type l -lname "$LAB/*")
fi
for f in /var/lib/cni/results/drlab-* /var/lib/cni/results/cni-loopback-* /run/containerd/s/*; do [ -e "$f" ] && leftover "file $f"; done
[ -e "$LAB" ] && leftover "folder $LAB"
[ "$(cat /proc/sys/net/ipv4/ip_forward)" = 0 ] || log "note: host net.ipv4.ip_forward is 1 (the lab never sets it)"

if [ $fail = 0 ]; then log "clean: no lab process, mount, namespace, link, route, cgroup, iptables rule or log link left"; fi
exit $fail
