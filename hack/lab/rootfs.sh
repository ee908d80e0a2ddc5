#!/usr/bin/env bash
# Builds the base image's root filesystem with debootstrap (Debian minbase plus what the
# data plane needs) into "$DRSYNCER_CACHE/lab/rootfs/<key>", keyed by suite, mirror and
# package list. A second run with the same key does nothing. Prints the rootfs path.
#
#   hack/lab/rootfs.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ROOTFS_PACKAGES=${ROOTFS_PACKAGES:-rsync,openssh-client,ca-certificates}
ROOTFS_REVISION=1 # bump when the trimming below changes
mirror=${DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
	mirror=$(grep -hoE '^(URIs:|deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null |
		grep -oE 'https?://[^ ]+' | head -n1 || true)
	mirror=${mirror:-http://deb.debian.org/debian}
fi

key=$(printf '%s\n' "$DEBIAN_SUITE" "$mirror" "$ROOTFS_PACKAGES" "$ROOTFS_REVISION" | sha256sum | cut -c1-16)
out=$LAB_CACHE/rootfs/$key
if [ -e "$out.complete" ] && [ -d "$out" ]; then echo "$out"; exit 0; fi

need_root
command -v debootstrap >/dev/null || die "debootstrap is missing: run \`make deps\`"
tmp=$out.tmp
cleanup() { # debootstrap mounts proc/sys inside the target; never leave them behind
	local m
	for m in $(awk -v p="$tmp/" 'index($5, p) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
		umount -l "$m" 2>/dev/null || true
	done
}
trap cleanup EXIT
cleanup
rm -rf --one-file-system "$tmp"
mkdir -p "$tmp"
logf=$LAB_CACHE/rootfs/$key.log
log "building base rootfs ($DEBIAN_SUITE minbase + $ROOTFS_PACKAGES from $mirror); log: $logf"
start=$SECONDS
if ! debootstrap --variant=minbase --include="$ROOTFS_PACKAGES" "$DEBIAN_SUITE" "$tmp" "$mirror" >"$logf" 2>&1; then
	tail -n 20 "$logf" >&2
	die "debootstrap failed; read $logf"
fi
cleanup
# Trim what an image never needs.
rm -rf "${tmp:?}"/var/cache/apt/* "$tmp"/var/lib/apt/lists/* "$tmp"/usr/share/doc/* \
	"$tmp"/usr/share/man/* "$tmp"/usr/share/info/* "$tmp"/var/log/* "$tmp"/var/cache/debconf/*-old \
	"$tmp"/tmp/* "$tmp"/run/*
find "$tmp/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} + 2>/dev/null || true
find "$tmp/dev" -mindepth 1 -delete # the runtime provides /dev
: >"$tmp/etc/machine-id"
echo "dr-syncer-lab" >"$tmp/etc/hostname"
rm -f "$out.complete"
rm -rf --one-file-system "$out"
mv "$tmp" "$out"
touch "$out.complete" # beside the tree, so it is not part of the image
log "base rootfs built in $((SECONDS - start))s: $out ($(du -sh "$out" | cut -f1))"
echo "$out"
