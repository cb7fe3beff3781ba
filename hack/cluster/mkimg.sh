#!/bin/bash
# mkimg.sh REF ROOTFS OUT.tar ['CONFIG_JSON']
#
# Writes a single-layer container image from the directory ROOTFS as a docker-archive tarball
# (the `docker save` format: manifest.json + config blob + layer tar), without Docker. Load it
# into the test cluster with `make cluster-load IMAGE=OUT.tar` (or `ctr -n k8s.io images import`).
#
#   REF          image name, e.g. docker.io/kubectl-shark/web:dev (pods then use that name with
#                imagePullPolicy: IfNotPresent or Never)
#   ROOTFS       directory that becomes the image's / (owners are recorded as 0:0)
#   CONFIG_JSON  the image config's "config" object (default {}), e.g.
#                '{"Entrypoint":["/web"],"Cmd":["serve"],"Env":["PATH=/usr/bin:/bin"]}'
#
# The output is reproducible: same ROOTFS contents and arguments, same image ID.
# Needs only bash, GNU tar, sha256sum.
set -euo pipefail

if [ $# -lt 3 ] || [ $# -gt 4 ]; then
	sed -n '2,15s/^# \{0,1\}//p' "$0" >&2
	exit 2
fi
ref=$1 rootfs=$2 out=$3 cfg=${4:-'{}'}
[ -d "$rootfs" ] || { echo "mkimg.sh: $rootfs is not a directory" >&2; exit 1; }
case $ref in *:*) ;; *) ref=$ref:latest ;; esac

arch=$(uname -m)
case $arch in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The layer: sorted, numeric owner 0:0, mtime 0, so the digest depends on the contents only.
tar --numeric-owner --owner=0 --group=0 --sort=name --mtime=@0 --format=gnu \
	-C "$rootfs" -cf "$work/layer.tar" .
layer=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
mkdir "$work/$layer"
mv "$work/layer.tar" "$work/$layer/layer.tar"

printf '{"architecture":"%s","os":"linux","created":"1970-01-01T00:00:00Z","config":%s,"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created":"1970-01-01T00:00:00Z","created_by":"hack/cluster/mkimg.sh"}]}' \
	"$arch" "$cfg" "$layer" > "$work/config.json"
config=$(sha256sum "$work/config.json" | cut -d' ' -f1)
mv "$work/config.json" "$work/$config.json"
printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]\n' "$config" "$ref" "$layer" > "$work/manifest.json"

mkdir -p "$(dirname "$out")"
tar --numeric-owner --owner=0 --group=0 --sort=name --mtime=@0 -C "$work" -cf "$out.tmp" \
	manifest.json "$config.json" "$layer"
mv -f "$out.tmp" "$out"
echo "built $out ($ref, image id sha256:${config:0:12}, $(du -h "$out" | cut -f1))"
