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
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
