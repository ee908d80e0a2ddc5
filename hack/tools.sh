#!/usr/bin/env bash
# Builds the heavy tool binaries (controller-gen, the Temporal CLI, the Kubernetes
# test binaries and etcd, the CSI sidecars and snapshot-controller with the
# VolumeSnapshot CRDs, helm) into a cache outside the clone, keyed by each tools
# module's go.mod and go.sum, and links the current ones into "$DRSYNCER_CACHE/bin".
# A second run with the same modules does nothing; with a warm Go cache a
# changed module rebuilds in seconds.
#
#   hack/tools.sh [controller-gen|temporal|kube|csi|helm ...]   (default: all)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${DRSYNCER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dr-syncer}
bin="$cache/bin"
mkdir -p "$bin"

# ldflags NAME: link flags of a tools module. Kubernetes binaries get their
# release version stamped in, as release builds do, so `kubectl version` and
# the API server's /version tell the truth.
ldflags() {
	local flags="-s -w"
	if [ "$1" = kube ]; then
		local v major minor
		v=$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ {print $2; exit}' "$root/tools/kube/go.mod")
		major=${v#v}; major=${major%%.*}
		minor=${v#v*.}; minor=${minor%%.*}
		local pkg
		for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
			flags+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
		done
	fi
	if [ "$1" = helm ]; then # a module build says "v4.3"; the chart tests check the pinned release
		flags+=" -X helm.sh/helm/v4/internal/version.version=$(awk '$1 == "helm.sh/helm/v4" {print $2; exit}' "$root/tools/helm/go.mod")"
	fi
	echo "$flags"
}

extras() { # extras NAME DIR: files a tools module ships besides its binaries
	if [ "$1" = csi ]; then # the VolumeSnapshot CRDs, from the snapshotter's client module
		local crds
		crds=$(cd "$root/tools/csi" && go mod download -json github.com/kubernetes-csi/external-snapshotter/client/v8 |
			awk -F'"' '$2 == "Dir" {print $4}')/config/crd
		mkdir -p "$2/snapshot-crds"
		cp "$crds"/*snapshot.storage.k8s.io_*.yaml "$2/snapshot-crds/" # group snapshots too: the controller waits for them
	fi
}

build() { # build NAME: builds every tool listed in tools/NAME/go.mod
	local name=$1 dir="$root/tools/$1"
	local key out flags
	flags=$(ldflags "$name")
	key=$( (cat "$dir/go.mod" "$dir/go.sum"; echo "$flags") | sha256sum | cut -c1-16)
	out="$cache/tools/$name-$key"
	if [ ! -e "$out/.complete" ]; then
		echo "tools: building $name into $out (a cold build can take several minutes)" >&2
		local start=$SECONDS
		rm -rf "$out.tmp" && mkdir -p "$out.tmp"
		(cd "$dir" && CGO_ENABLED=0 go build -trimpath -ldflags="$flags" -o "$out.tmp/" tool)
		extras "$name" "$out.tmp"
		touch "$out.tmp/.complete"
		rm -rf "$out" && mv "$out.tmp" "$out"
		echo "tools: $name built in $((SECONDS - start))s" >&2
	fi
	# Older builds of this module are dead weight (hundreds of MB); running
	# processes keep their open binaries even after the files are gone.
	find "$cache/tools" -mindepth 1 -maxdepth 1 -name "$name-*" ! -name "$(basename "$out")" -exec rm -rf {} +
	local f
	for f in "$out"/*; do
		ln -sfn "$f" "$bin/$(basename "$f")"
	done
}

if [ $# -eq 0 ]; then set -- controller-gen temporal kube csi helm; fi
for t in "$@"; do build "$t"; done
echo "$bin"
