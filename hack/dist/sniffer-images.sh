#!/bin/bash
# sniffer-images.sh [OUTDIR]: the sniffer image of this version for linux/amd64 and linux/arm64,
# without Docker, into OUTDIR (default dist/):
#
#   shark-sniffer_<version>_linux_amd64.docker.tar   docker-archive (ctr images import, docker load,
#   shark-sniffer_<version>_linux_arm64.docker.tar   make cluster-load IMAGE=...)
#   shark-sniffer_<version>.oci.tar                  both, as one multi-platform OCI image layout
#                                                    (push: skopeo copy --all oci-archive:FILE docker://REF)
#
# Every image is tagged REF = the image the plugin of this version runs by default,
# internal/version.SnifferImage(): ImageRepository:VERSION (dist.sh passes it in IMAGE_REF, read from
# the plugin it built). Environment: VERSION and SOURCE_DATE_EPOCH (see version.sh), IMAGE_REF,
# IMAGE_REPOSITORY (instead of internal/version's default repository).
#
# The images are built by images/sniffer/build.sh (the one recipe of the sniffer image: a static
# CGO_ENABLED=0 shark-sniffer, /etc/passwd, /tmp, /data) with GOARCH set; hack/cluster/mkimg.sh takes
# the image's architecture from `uname -m`, so it runs with a `uname` that answers the target's.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/dist}
mkdir -p "$out"
out=$(cd "$out" && pwd)

eval "$("$root/hack/dist/version.sh" --all)"
export VERSION SOURCE_DATE_EPOCH
if [ -z "${IMAGE_REF:-}" ]; then
	repo=${IMAGE_REPOSITORY:-$(sed -nE 's/^[[:space:]]*ImageRepository[[:space:]]*=[[:space:]]*"([^"]+)".*/\1/p' "$root/internal/version/version.go")}
	[ -n "$repo" ] || { echo "sniffer-images.sh: cannot find ImageRepository in internal/version/version.go" >&2; exit 1; }
	tag=$VERSION
	[ "$tag" = v0.0.0-dev ] && tag=dev # as version.SnifferImage()
	IMAGE_REF=$repo:$tag
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
real_uname=$(command -v uname)

args=()
for arch in amd64 arm64; do
	case $arch in amd64) m=x86_64 ;; arm64) m=aarch64 ;; esac
	shim=$work/uname-$arch
	mkdir -p "$shim"
	printf '#!/bin/sh\nif [ "$*" = -m ]; then echo %s; else exec %s "$@"; fi\n' "$m" "$real_uname" > "$shim/uname"
	chmod +x "$shim/uname"
	file=$out/shark-sniffer_${VERSION}_linux_${arch}.docker.tar
	PATH=$shim:$PATH GOOS=linux GOARCH=$arch "$root/images/sniffer/build.sh" "$file" "$IMAGE_REF"
	args+=("linux/$arch=$file")
done

(cd "$root" && env -u GOOS -u GOARCH go build -o "$work/ociimage" ./hack/dist/ociimage)
"$work/ociimage" -ref "$IMAGE_REF" -o "$out/shark-sniffer_${VERSION}.oci.tar" "${args[@]}"
