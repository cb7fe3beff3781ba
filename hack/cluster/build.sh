#!/bin/bash
# shellcheck disable=SC2016  # the bash -c scripts below expand their own positional arguments
# build.sh [k8s|coredns|all]: build the test cluster's binaries once and cache them outside the
# checkout, keyed by version + a hash of the module's sources (see lib.sh k8s_build_key):
#
#   $CACHE/k8s-v1.33.13-<key>/bin/k8s        all-in-one: etcd, control plane, kubelet, kube-proxy,
#                                            kubectl, cri-rmp, cri-ready
#   $CACHE/k8s-v1.33.13-<key>/bin/kubectl    symlink to k8s
#   $CACHE/coredns-v1.12.4-<key>/coredns     minimal CoreDNS
#
# A cached binary is reused as is (CI's fresh clones hit the cache). The cold k8s build takes
# about 7 minutes on 2 cores and about 3 GB of GOCACHE; a concurrent second caller waits on a lock.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

what=${1:-all}
export CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false -trimpath"

# build_cached KEYDIR RELPATH -- COMMAND...: run COMMAND (which must write KEYDIR/RELPATH.tmp)
# unless KEYDIR/RELPATH exists; atomic rename; one builder per kind at a time (flock); other keys
# of the same kind are removed afterwards (a k8s build is ~125 MiB).
build_cached() {
	local keydir=$1 out=$1/$2 kind
	shift 3
	kind=$(basename "$keydir")
	kind=${kind%%-*}
	[ -x "$out" ] && return 0
	mkdir -p "$CACHE"
	exec 9> "$CACHE/.lock-$kind"
	flock 9
	if [ ! -x "$out" ]; then
		mkdir -p "$(dirname "$out")"
		local t0=$SECONDS
		log "building $out (a cold build takes minutes; cached afterwards)"
		if ! "$@"; then
			rm -f "$out.tmp"
			die "building $out failed"
		fi
		mv -f "$out.tmp" "$out"
		log "built $out in $((SECONDS - t0)) s"
		find "$CACHE" -mindepth 1 -maxdepth 1 -type d -name "$kind-*" ! -path "$keydir" \
			-exec rm -rf {} + 2>/dev/null || true
	fi
	flock -u 9
	exec 9>&-
}

build_k8s() {
	local dir ld p
	dir=$(k8s_bin_dir)
	# Version stamps, as k8s' own build sets them (kubectl version, /version, node info).
	ld="-s -w"
	for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		ld="$ld -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=33"
		ld="$ld -X $p.gitCommit=0000000000000000000000000000000000000000 -X $p.gitTreeState=clean"
		ld="$ld -X $p.buildDate=1970-01-01T00:00:00Z"
	done
	build_cached "$(dirname "$dir")" bin/k8s -- bash -c 'cd "$1" && go build -ldflags "$2" -o "$3" ./cmd/k8s' _ \
		"$HC_DIR" "$ld" "$dir/k8s.tmp"
	ln -sfn k8s "$dir/kubectl"
	echo "k8s:     $dir/k8s"
	echo "kubectl: $dir/kubectl"
}

build_coredns() {
	local bin
	bin=$(coredns_bin)
	build_cached "$(dirname "$bin")" coredns -- bash -c 'cd "$1/coredns" && go build -ldflags "-s -w" -o "$2" .' _ \
		"$HC_DIR" "$bin.tmp"
	echo "coredns: $bin"
}

command -v go >/dev/null || die "Go is not installed (expected at /usr/local/go/bin/go)"
case $what in
k8s) build_k8s ;;
coredns) build_coredns ;;
all) build_k8s && build_coredns ;;
*) die "usage: $0 [k8s|coredns|all]" ;;
esac
