#!/usr/bin/env bash
# Installs the Debian packages the tests, the lab and the benchmarks need.
# Safe to run again: it installs only what is missing.
#
#   hack/deps.sh            (needs root, or sudo)
set -euo pipefail

packages=(
	rsync openssh-client openssh-server              # data plane and its benchmarks
	containerd runc containernetworking-plugins      # lab: container runtime and CNI
	debootstrap iptables iproute2 openssl e2fsprogs  # lab: images, node networking, certs, volumes
	util-linux procps curl                           # nsenter, losetup, ps; HTTP checks in tests
	prometheus                                       # promtool: the alert rules' and dashboard's tests
)

missing=()
for p in "${packages[@]}"; do
	[[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == *'install ok installed'* ]] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

sudo=""
if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
echo "deps: installing ${missing[*]}" >&2
$sudo apt-get update -qq

# The prometheus package is here only for promtool. Its server must not start
# (it would listen on :9090 and keep a TSDB on this machine): while apt runs,
# a policy-rc.d refuses that one service and leaves every other to the
# system's default. An existing policy-rc.d (Docker images have one that
# refuses everything) is the machine's own choice and is left alone.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
	$sudo tee "$policy" >/dev/null <<'POLICY'
#!/bin/sh
# Written by dr-syncer's hack/deps.sh for the length of one apt-get install.
for arg; do
	case "$arg" in
	-*) ;;
	prometheus | prometheus.service) exit 101 ;;
	*) exit 104 ;;
	esac
done
exit 104
POLICY
	$sudo chmod 755 "$policy"
	trap '$sudo rm -f "$policy"' EXIT
fi
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The package also enables the service for the next boot; undo that, and
# stop it in case a policy-rc.d that allows it was already in place.
if [ -d /run/systemd/system ] && systemctl list-unit-files prometheus.service >/dev/null 2>&1; then
	$sudo systemctl disable --now prometheus.service >/dev/null 2>&1 || true
fi
