#!/bin/bash
# version.sh [--all]: the release version of this tree, as a semantic version with a leading v
# (what krew and the image tag need), and with --all also the commit and the build date:
#
#   VERSION=v1.2.3  COMMIT=0123456789ab  DATE=2026-03-14T22:00:00Z  SOURCE_DATE_EPOCH=1773525600
#
# The version is, in this order:
#   * $VERSION when set: used as is when it is vMAJOR.MINOR.PATCH[-PRERELEASE] (a missing
#     leading v is added), otherwise made one: VERSION=dev gives v0.0.0-dev;
#   * the tag, when HEAD is exactly at a tag vX.Y.Z[-pre] and the work tree is clean;
#   * otherwise a pseudo-version v0.0.0-<commit time, UTC, YYYYMMDDhhmmss>-<12-hex commit>, with
#     -dirty appended when tracked files are modified (like `git describe --dirty`);
#   * v0.0.0-dev outside a git work tree.
# Build metadata (+...) is refused: the version is also the sniffer image's tag, and image
# tags cannot hold '+'.
#
# The date (stamped into internal/version.Date and used as every archive entry's mtime) is
# $SOURCE_DATE_EPOCH when set, else the commit time, so that two builds of one commit are
# byte-identical.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)

# semver.org's grammar without build metadata, with the leading v.
num='(0|[1-9][0-9]*)'
ident='(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)'
semver_re="^v$num\\.$num\\.$num(-$ident(\\.$ident)*)?\$"

die() { echo "version.sh: $*" >&2; exit 1; }

git_() { git -C "$root" "$@" 2>/dev/null; }
in_git=false
git_ rev-parse --verify -q HEAD >/dev/null && in_git=true

if $in_git; then
	commit=$(git_ rev-parse --short=12 HEAD)
	commit_epoch=$(git_ log -1 --format=%ct HEAD)
	dirty=false
	git_ diff --quiet HEAD -- || dirty=true
else
	commit=unknown commit_epoch=0 dirty=false
fi
epoch=${SOURCE_DATE_EPOCH:-$commit_epoch}
[[ $epoch =~ ^[0-9]+$ ]] || die "SOURCE_DATE_EPOCH=$epoch is not a number of seconds"

if [ -n "${VERSION:-}" ]; then
	v=$VERSION
	case $v in [0-9]*) v=v$v ;; esac
	case $v in *+*) die "VERSION=$VERSION has build metadata (+...), which an image tag cannot hold" ;; esac
	if ! [[ $v =~ $semver_re ]]; then
		# v0.0.0-<VERSION with every character outside [0-9A-Za-z.-] made a '-'>
		v=v0.0.0-$(printf '%s' "$VERSION" | tr -c '0-9A-Za-z.-' '-')
		[[ $v =~ $semver_re ]] || die "VERSION=$VERSION cannot be made a semantic version (tried $v)"
	fi
elif $in_git; then
	tag=$(git_ describe --tags --exact-match --match 'v[0-9]*' HEAD || true)
	if [ -n "$tag" ] && ! $dirty && [[ $tag =~ $semver_re ]]; then
		v=$tag
	else
		v=v0.0.0-$(TZ=UTC date -d "@$commit_epoch" +%Y%m%d%H%M%S)-$commit
		$dirty && v=$v-dirty
	fi
else
	v=v0.0.0-dev
fi

if [ "${1:-}" = --all ]; then
	echo "VERSION=$v"
	echo "COMMIT=$commit"
	echo "DATE=$(TZ=UTC date -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)"
	echo "SOURCE_DATE_EPOCH=$epoch"
else
	echo "$v"
fi
