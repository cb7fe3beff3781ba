#!/bin/bash
# load.sh FILE.tar [NAME]: import an image tarball into the test cluster's containerd, namespace
# k8s.io (what the kubelet sees), like `kind load image-archive`. FILE may be a docker-archive
# (`docker save`, hack/cluster/mkimg.sh) or an OCI image layout tarball. The image keeps the
# name(s) recorded in the tarball; NAME (e.g. docker.io/kubectl-shark/sniffer:dev) additionally
# tags the imported image, which an OCI tarball without a full reference needs.
# Pods then use the name with imagePullPolicy: IfNotPresent (or Never).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

file=${1:-}
name=${2:-}
[ -n "$file" ] || die "usage: $0 FILE.tar [NAME]   (make cluster-load IMAGE=FILE.tar [NAME=REF])"
[ -f "$file" ] || die "$file: no such file"
need_root
if ! pid_of containerd >/dev/null || [ ! -S "$SOCK" ]; then die "the test cluster is not running (make cluster-up)"; fi

ctr_() { ctr --address "$SOCK" --namespace k8s.io "$@"; }

# ctr prints "unpacking NAME (sha256:...)...done" for every image it imported
out=$(ctr_ images import "$file" 2>&1) || die "importing $file failed (is it a docker-archive or OCI tarball?): $out"
names=$(echo "$out" | sed -nE 's/^unpacking ([^ ]+) \(sha256:[0-9a-f]+\).*/\1/p')
[ -n "$names" ] || die "$file contained no image for this platform: $out"
if [ -n "$name" ]; then
	src=$(echo "$names" | grep -v '@sha256:' | head -n 1)
	[ -n "$src" ] || src=$(echo "$names" | head -n 1)
	if [ "$src" != "$name" ]; then
		ctr_ images tag --force "$src" "$name" >/dev/null
		# drop the placeholder name ctr invents for a tarball without a full reference
		case $src in import-*) ctr_ images rm "$src" >/dev/null && names=$(echo "$names" | grep -vxF "$src" || true) ;; esac
	fi
	names=$(printf '%s\n%s\n' "$names" "$name")
elif echo "$names" | grep -q '^import-'; then
	warn "$file names no full image reference; give one with NAME=docker.io/REPO:TAG"
fi
echo "loaded $(basename "$file"): $(echo "$names" | sed "/^$/d" | sort -u | tr '\n' ' ')"
