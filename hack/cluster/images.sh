#!/bin/bash
# images.sh [--load] [pause|coredns|web|redis|tls]...: build the test cluster's images, without
# Docker, as docker-archive tarballs in $STATE/images/ (default: all five); with --load also
# import them into the running cluster (what `make cluster-images` does).
#
#   registry.k8s.io/pause:3.10             pod sandbox (gcc -static images/pause/pause.c)
#   docker.io/kubectl-shark/coredns:dev    cluster DNS (minimal CoreDNS, cached by build.sh)
#   docker.io/kubectl-shark/web:dev        static Go test/demo HTTP server + client (images/web):
#                                          `web serve -error-every 5 -slow-every 7` is the demo
#                                          service, `web client -redis redis:6379 http://web/`
#                                          the demo client (a bounded loop, resolves via DNS)
#   docker.io/kubectl-shark/redis:dev      Debian's redis-server binary + its shared libraries
#   docker.io/kubectl-shark/tls:dev        Debian's nginx and curl (both linked to libssl3) + their
#                                          shared libraries: nginx serves HTTPS on :8443 with the
#                                          certificate mounted at /certs (images/tls/nginx.conf);
#                                          `/pause` keeps a client pod alive for `kubectl exec
#                                          ... -- curl -sk https://IP:8443/...` (the --tls e2e test)
#
# Every tarball is reproducible, so re-importing an unchanged image is a no-op.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

load=0
if [ "${1:-}" = --load ]; then
	load=1
	shift
fi
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(pause coredns web redis tls)

TLS_IMAGE=docker.io/kubectl-shark/tls:dev

OUT=$STATE/images
B=$OUT/build
mkdir -p "$B"

# fresh_root NAME: an empty rootfs dir with /etc/passwd, /etc/group, /tmp.
fresh_root() {
	local r=$B/$1-root
	rm -rf "$r"
	mkdir -p "$r/etc" "$r/tmp"
	chmod 1777 "$r/tmp"
	printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' > "$r/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' > "$r/etc/group"
	echo "$r"
}

build_pause() {
	ensure_pkgs gcc=gcc /usr/lib/x86_64-linux-gnu/libc.a=libc6-dev
	local r
	r=$(fresh_root pause)
	gcc -static -Os -s -o "$r/pause" "$HC_DIR/images/pause/pause.c"
	"$HC_DIR/mkimg.sh" "$PAUSE_IMAGE" "$r" "$OUT/pause.tar" '{"Entrypoint":["/pause"],"User":"65535:65535"}'
}

build_coredns() {
	local r bin
	bin=$(coredns_bin)
	[ -x "$bin" ] || "$HC_DIR/build.sh" coredns >/dev/null
	r=$(fresh_root coredns)
	cp "$bin" "$r/coredns"
	"$HC_DIR/mkimg.sh" "$COREDNS_IMAGE" "$r" "$OUT/coredns.tar" \
		'{"Entrypoint":["/coredns"],"ExposedPorts":{"53/udp":{},"53/tcp":{}}}'
}

build_web() {
	local r
	r=$(fresh_root web)
	(cd "$HC_DIR/images/web" && CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false -trimpath" \
		go build -ldflags "-s -w" -o "$r/web" .)
	"$HC_DIR/mkimg.sh" "$WEB_IMAGE" "$r" "$OUT/web.tar" \
		'{"Entrypoint":["/web"],"Cmd":["serve"],"ExposedPorts":{"80/tcp":{}}}'
}

build_redis() {
	ensure_pkgs redis-server=redis-server
	local r bin lib
	bin=$(readlink -f "$(command -v redis-server)")
	r=$(fresh_root redis)
	mkdir -p "$r/usr/bin" "$r/data"
	cp "$bin" "$r/usr/bin/redis-server"
	# the dynamic loader and every shared library, at their paths on this host
	for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
		cp --parents -L "$lib" "$r/"
	done
	"$HC_DIR/mkimg.sh" "$REDIS_IMAGE" "$r" "$OUT/redis.tar" \
		'{"Entrypoint":["/usr/bin/redis-server"],"Cmd":["--bind","0.0.0.0","--protected-mode","no","--save","","--appendonly","no","--dir","/data"],"ExposedPorts":{"6379/tcp":{}},"WorkingDir":"/data"}'
}

# copy_with_libs ROOT BIN...: each binary at its path on this host, with the dynamic loader and
# every shared library it links (ldd), also at their paths on this host.
copy_with_libs() {
	local r=$1 bin lib
	shift
	for bin in "$@"; do
		cp --parents -L "$bin" "$r/"
		for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
			cp --parents -L "$lib" "$r/"
		done
	done
}

build_tls() {
	ensure_pkgs gcc=gcc /usr/lib/x86_64-linux-gnu/libc.a=libc6-dev nginx=nginx curl=curl
	local r
	r=$(fresh_root tls)
	mkdir -p "$r/etc/nginx" "$r/certs"
	copy_with_libs "$r" "$(readlink -f "$(command -v nginx)")" "$(readlink -f "$(command -v curl)")"
	cp "$HC_DIR/images/tls/nginx.conf" "$r/etc/nginx/nginx.conf"
	gcc -static -Os -s -o "$r/pause" "$HC_DIR/images/pause/pause.c"
	"$HC_DIR/mkimg.sh" "$TLS_IMAGE" "$r" "$OUT/tls.tar" \
		'{"Entrypoint":["/usr/sbin/nginx"],"Cmd":["-c","/etc/nginx/nginx.conf"],"ExposedPorts":{"8443/tcp":{}}}'
}

for n in "${names[@]}"; do
	case $n in
	pause | coredns | web | redis | tls) "build_$n" ;;
	*) die "unknown image '$n' (pause, coredns, web, redis, tls)" ;;
	esac
done
rm -rf "$B"

if [ $load = 1 ]; then
	for n in "${names[@]}"; do
		"$HC_DIR/load.sh" "$OUT/$n.tar"
	done
fi
