#!/bin/bash
# Builds the sniffer image without Docker: a docker-archive tarball holding the
# shark-sniffer binary (and, for a cgo build, exactly the shared libraries it links,
# found with ldd), importable with `ctr -n k8s.io images import` or
# `make cluster-load IMAGE=...`.
#
#   images/sniffer/build.sh [OUT.tar] [REF]
#
# REF defaults to docker.io/kubectl-shark/sniffer:$VERSION (VERSION from the
# environment or git describe). The Dockerfile beside this script builds the same
# image for people with Docker.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
version=${VERSION:-$(git -C "$root" describe --tags --always --dirty 2>/dev/null || echo dev)}
out=${1:-$root/_output/images/sniffer.tar}
ref=${2:-docker.io/kubectl-shark/sniffer:$version}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

pkg=github.com/kubectl-shark/kubectl-shark
ldflags="-s -w -X $pkg/internal/version.Version=$version -X $pkg/internal/version.Commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
mkdir -p "$work/rootfs/tmp" "$work/rootfs/data"
chmod 1777 "$work/rootfs/tmp"
(cd "$root" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$work/rootfs/shark-sniffer" ./cmd/shark-sniffer)

# A cgo build links libpcap and glibc dynamically: copy what it needs, at the same paths.
if ldd "$work/rootfs/shark-sniffer" >/dev/null 2>&1; then
	ldd "$work/rootfs/shark-sniffer" | grep -o '/[^ ]*' | sort -u | while read -r lib; do
		mkdir -p "$work/rootfs$(dirname "$lib")"
		cp -L "$lib" "$work/rootfs$lib"
	done
fi
# The agent runs as root with a read-only root filesystem; /etc/passwd keeps tools happy.
mkdir -p "$work/rootfs/etc"
echo 'root:x:0:0:root:/:/shark-sniffer' > "$work/rootfs/etc/passwd"
echo 'root:x:0:' > "$work/rootfs/etc/group"

"$root/hack/cluster/mkimg.sh" "$ref" "$work/rootfs" "$out" \
	'{"Entrypoint":["/shark-sniffer"],"WorkingDir":"/","Labels":{"org.opencontainers.image.source":"https://github.com/kubectl-shark/kubectl-shark","org.opencontainers.image.title":"kubectl-shark sniffer"}}'
