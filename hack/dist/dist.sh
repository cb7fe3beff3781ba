#!/bin/bash
# dist.sh [OUTDIR]: the release artifacts of this tree, into OUTDIR (default dist/):
#
#   kubectl-shark_<version>_<os>_<arch>.tar.gz   linux, darwin x amd64, arm64: kubectl-shark,
#   kubectl-shark_<version>_windows_<arch>.zip   kubectl-shark.exe on windows; each archive also
#                                                holds kubectl_complete-shark, LICENSE, README.md
#   shark.yaml                                   the krew manifest (krew-manifest.yaml, rendered)
#   shark-sniffer_<version>_linux_<arch>.docker.tar, shark-sniffer_<version>.oci.tar
#                                                the sniffer images (sniffer-images.sh)
#   checksums.txt                                sha256 of every archive and image, `sha256sum -c` format
#
# The plugin is built with CGO_ENABLED=0 (tcpdump filters compile in pure Go, pkg/bpfexpr) and
# -trimpath, stamped through -ldflags with internal/version's Version, Commit and Date (see
# version.sh); its default sniffer image is then ImageRepository:Version. Same commit, same Go:
# the same bytes (entries sorted, mtime = the commit time, owner 0:0 without names, gzip without
# name or time).
#
# Environment: VERSION, SOURCE_DATE_EPOCH (version.sh); IMAGE_REPOSITORY (stamped into the plugin
# instead of internal/version's default, and used to tag the images); DIST_IMAGES=0 skips the
# sniffer images.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/dist}
mkdir -p "$out"
out=$(cd "$out" && pwd)
platforms=(linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64)

eval "$("$root/hack/dist/version.sh" --all)"
export VERSION SOURCE_DATE_EPOCH
echo "dist: kubectl-shark $VERSION (commit $COMMIT, $DATE) into $out" >&2

pkg=github.com/kubectl-shark/kubectl-shark
ldflags="-s -w -X $pkg/internal/version.Version=$VERSION -X $pkg/internal/version.Commit=$COMMIT -X $pkg/internal/version.Date=$DATE"
if [ -n "${IMAGE_REPOSITORY:-}" ]; then
	ldflags+=" -X $pkg/internal/version.ImageRepository=$IMAGE_REPOSITORY"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$root" && env -u GOOS -u GOARCH go build -o "$work/mkarchive" ./hack/dist/mkarchive)

# Only this script's own outputs go; anything else in OUTDIR stays.
rm -f "$out"/kubectl-shark_*.tar.gz "$out"/kubectl-shark_*.zip "$out"/shark-sniffer_*.tar \
	"$out/shark.yaml" "$out/checksums.txt"

# The manifest without the template's leading comment.
manifest=$(sed -n '/^apiVersion:/,$p' "$root/krew-manifest.yaml")
manifest=${manifest//'{{VERSION}}'/$VERSION}
hostbin=
for p in "${platforms[@]}"; do
	os=${p%/*} arch=${p#*/}
	stage=$work/$os-$arch
	mkdir -p "$stage"
	bin=kubectl-shark ext=.tar.gz extra=()
	if [ "$os" = windows ]; then
		bin=kubectl-shark.exe ext=.zip extra=(kubectl_complete-shark.cmd)
	fi
	echo "dist: building $p" >&2
	(cd "$root" && CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath -ldflags "$ldflags" -o "$stage/$bin" ./cmd/kubectl-shark)
	install -m 0644 "$root/LICENSE" "$root/README.md" "$stage/"
	install -m 0755 "$root/hack/dist/kubectl_complete-shark" "$stage/"
	for f in "${extra[@]}"; do install -m 0644 "$root/hack/dist/$f" "$stage/"; done
	archive=kubectl-shark_${VERSION}_${os}_${arch}$ext
	"$work/mkarchive" -o "$out/$archive" -C "$stage" -mtime "$SOURCE_DATE_EPOCH" \
		"$bin" kubectl_complete-shark LICENSE README.md "${extra[@]}"
	sum=$(sha256sum "$out/$archive" | cut -d' ' -f1)
	manifest=${manifest//"{{SHA256_${os}_${arch}}}"/$sum}
	if [ "$p" = "$(go env GOHOSTOS)/$(go env GOHOSTARCH)" ]; then hostbin=$stage/$bin; fi
done

if grep -q '{{' <<<"$manifest"; then
	echo "dist: krew-manifest.yaml has placeholders no platform filled:" >&2
	grep -n '{{' <<<"$manifest" >&2
	exit 1
fi
printf '%s\n' "$manifest" > "$out/shark.yaml"

# The image the plugin runs by default, from the plugin itself: the images get exactly that name.
image_ref=
if [ -n "$hostbin" ]; then
	vout=$("$hostbin" version)
	grep -qF " $VERSION " <<<"$vout" || { echo "dist: $hostbin does not say it is $VERSION: $vout" >&2; exit 1; }
	image_ref=$(sed -n 's/^sniffer image: //p' <<<"$vout")
	echo "dist: the plugin's sniffer image is $image_ref" >&2
fi
if [ "${DIST_IMAGES:-1}" != 0 ]; then
	IMAGE_REF=$image_ref "$root/hack/dist/sniffer-images.sh" "$out"
fi

(cd "$out" && find . -maxdepth 1 -type f \( -name 'kubectl-shark_*' -o -name 'shark-sniffer_*.tar' \) -printf '%f\n' |
	LC_ALL=C sort | xargs -r sha256sum > checksums.txt)
echo "dist: done" >&2
(cd "$out" && find . -maxdepth 1 -type f \( -name checksums.txt -o -name shark.yaml -o -name 'kubectl-shark_*' -o -name 'shark-sniffer_*.tar' \) -printf '  %12s  %f\n' | LC_ALL=C sort -k2)
