#!/usr/bin/env bash
# Builds the lab's images without a container engine and imports them into the
# running lab nodes. Everything is keyed by content hashes, so a second run rebuilds
# and re-imports only what changed.
#
#   hack/lab/images.sh build            # tarballs into $DRSYNCER_CACHE/lab/images
#   hack/lab/images.sh import [CLUSTER] # into each running node's containerd
#   hack/lab/images.sh                  # both
#
# Images (all $LAB_IMAGE_PREFIX/<name>:$LAB_IMAGE_TAG, default localhost/dr-syncer/<name>:lab):
#   pause       the pod sandbox (test/lab/pause)
#   base        Debian minbase + rsync, openssh-client, ca-certificates (hack/lab/rootfs.sh)
#   dataplane   base + every static binary of ./cmd/... in /usr/local/bin
#   controller  same layers, entrypoint /usr/local/bin/controller
#   worker      same layers, entrypoint /usr/local/bin/worker
# Each is also tagged dr-syncer/<name>:dev (docker.io/...), the names deploy/ uses.
# deploy/images/Dockerfile builds the same images with docker.
# Each tarball is a docker archive: `docker load -i $DRSYNCER_CACHE/lab/images/base.tar`.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

BUILD=$LAB_CACHE/build/$(printf '%s' "$ROOT" | sha256sum | cut -c1-12) # per checkout
TOOLS=$BUILD/tools
CMDS=$BUILD/cmds
LAYERS=$LAB_CACHE/layers
IMAGES=$LAB_CACHE/images
IMAGE_NAMES="pause base dataplane controller worker"

sha() { sha256sum "$@" | cut -c1-16; }
strsha() { sha256sum | cut -c1-16; }

build_tools() { # the lab's own Go programs; go build is incremental
	mkdir -p "$TOOLS"
	(cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$TOOLS/" \
		./test/lab/mkimage ./test/lab/pause ./test/lab/provisioner ./test/lab/tcpfwd ./test/lab/csidriver) ||
		die "building the lab's Go programs (test/lab/...) failed"
}

build_cmds() { # the project's binaries: whatever ./cmd/* exists today
	rm -rf "$CMDS.new" && mkdir -p "$CMDS.new"
	local pkgs=() d
	for d in "$ROOT"/cmd/*/; do
		[ -d "$d" ] && ls "$d"*.go >/dev/null 2>&1 && pkgs+=("./cmd/$(basename "$d")")
	done
	if [ ${#pkgs[@]} -gt 0 ]; then
		log "building ${pkgs[*]} (CGO_ENABLED=0)"
		if ! (cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$CMDS.new/" "${pkgs[@]}"); then
			[ -n "${LAB_KEEP_STALE_CMDS:-}" ] || die "building the project's commands (${pkgs[*]}) failed"
			# lab-up: the lab itself does not depend on the project compiling.
			log "WARNING: building ${pkgs[*]} failed (above); the project images keep the binaries of the last good build"
			rm -rf "$CMDS.new"
			mkdir -p "$CMDS"
			return 0
		fi
	else
		log "no ./cmd/* yet: the project images hold no binaries"
	fi
	rm -rf "$CMDS" && mv "$CMDS.new" "$CMDS"
}

layer() { # layer NAME KEY MKIMAGE-ARGS...: prints the layer tar, building it if missing
	local name=$1 key=$2; shift 2
	local out=$LAYERS/$name-$key.tar
	if [ ! -f "$out.diffid" ]; then
		mkdir -p "$LAYERS"
		rm -f "$LAYERS/$name-"*.tar "$LAYERS/$name-"*.tar.diffid # keep one version per layer
		"$TOOLS/mkimage" layer -o "$out" "$@" >/dev/null || die "building layer $name failed"
	fi
	echo "$out"
}

image() { # image NAME ENTRYPOINT LAYER...: writes $IMAGES/NAME.tar if its key changed
	local name=$1 entry=$2; shift 2
	local ref=$LAB_IMAGE_PREFIX/$name:$LAB_IMAGE_TAG l key
	# Also tagged dr-syncer/<name>:dev, the name deploy/ uses, so `kubectl apply -k deploy/`
	# runs unchanged in the lab.
	local alias=dr-syncer/$name:dev
	key=$( { echo "$ref" "$alias" "$entry"; for l in "$@"; do cat "$l.diffid"; done; } | strsha)
	mkdir -p "$IMAGES"
	if [ "$(cat "$IMAGES/$name.key" 2>/dev/null)" = "$key" ] && [ -f "$IMAGES/$name.tar" ]; then return; fi
	local args=() ; for l in "$@"; do args+=(-layer "$l"); done
	[ -z "$entry" ] || args+=(-entrypoint "$entry")
	"$TOOLS/mkimage" image -ref "$ref" -ref "$alias" "${args[@]}" -o "$IMAGES/$name.tar" || die "building image $name failed"
	echo "$key" >"$IMAGES/$name.key"
	log "image $ref built ($(du -h "$IMAGES/$name.tar" | cut -f1))"
}

build() {
	local start=$SECONDS rootfs base pause bins files=() f
	build_tools
	build_cmds
	rootfs=$("$ROOT/hack/lab/rootfs.sh")
	base=$(layer base "$(basename "$rootfs")" -dir "$rootfs")
	pause=$(layer pause "$(sha "$TOOLS/pause")" -file "/pause=$TOOLS/pause")
	for f in "$CMDS"/*; do [ -f "$f" ] && files+=(-file "/usr/local/bin/$(basename "$f")=$f"); done
	if [ ${#files[@]} -gt 0 ]; then
		bins=$(layer bins "$(sha "$CMDS"/* | strsha)" "${files[@]}")
	else
		bins=""
	fi
	image pause /pause "$pause"
	image base "" "$base"
	local entry
	for name in dataplane controller worker; do
		entry=""
		if [ "$name" != dataplane ] && [ -f "$CMDS/$name" ]; then entry=/usr/local/bin/$name; fi
		image "$name" "$entry" "$base" ${bins:+"$bins"}
	done
	log "images up to date in $IMAGES ($((SECONDS - start))s)"
}

import_into() { # import_into CLUSTER: imports every image whose key the node lacks
	cluster_vars "$1"
	[ -S "$C_CTRD_SOCK" ] || { log "$C_NAME: containerd not running, skipping import"; return 0; }
	mkdir -p "$C_DIR/images"
	local name ref key
	for name in $IMAGE_NAMES; do
		ref=$LAB_IMAGE_PREFIX/$name:$LAB_IMAGE_TAG
		key=$(cat "$IMAGES/$name.key" 2>/dev/null) || die "image $name not built: run \`make lab-images\`"
		if [ "$(cat "$C_DIR/images/$name" 2>/dev/null)" = "$key" ] &&
			[ "$(ctr --address "$C_CTRD_SOCK" -n k8s.io images ls -q "name==$ref")" = "$ref" ]; then
			continue
		fi
		ctr --address "$C_CTRD_SOCK" -n k8s.io images import --snapshotter overlayfs \
			"$IMAGES/$name.tar" >>"$C_DIR/logs/images.log" 2>&1 ||
			die "$C_NAME: importing $ref failed; read $C_DIR/logs/images.log"
		echo "$key" >"$C_DIR/images/$name"
		log "$C_NAME: imported $ref"
	done
}

cmd=${1:-all}
[ $# -gt 0 ] && shift
case $cmd in
build) build ;;
import) for c in ${*:-$LAB_CLUSTERS}; do import_into "$c"; done ;;
all) build; for c in $LAB_CLUSTERS; do import_into "$c"; done ;;
tools-dir) echo "$TOOLS" ;;
*) die "usage: images.sh [build|import [CLUSTER...]|all]" ;;
esac
