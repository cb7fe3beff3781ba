# shellcheck shell=bash
# shellcheck disable=SC2034  # settings used by the scripts that source this file
# lib.sh: settings and helpers shared by the hack/cluster scripts (sourced, never executed).
#
# Every setting can be overridden from the environment:
#   SHARK_CLUSTER_STATE  state dir (PKI, configs, etcd, kubelet, logs, images)  /var/tmp/kubectl-shark-cluster
#   SHARK_CLUSTER_RUN    runtime dir (containerd socket and state, tmpfs)       /run/kubectl-shark-cluster
#   SHARK_CLUSTER_CACHE  build cache (k8s + CoreDNS binaries), outside the checkout
#                        ${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-shark/cluster
#   NODE_IP, NODE_NAME   detected (default route's interface, hostname) unless set
#   WAIT_TIMEOUT         seconds each readiness wait may take (120)

HC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

K8S_VERSION=v1.33.13
COREDNS_VERSION=v1.12.4

STATE=${SHARK_CLUSTER_STATE:-/var/tmp/kubectl-shark-cluster}
RUN_DIR=${SHARK_CLUSTER_RUN:-/run/kubectl-shark-cluster}
CACHE=${SHARK_CLUSTER_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/kubectl-shark/cluster}
SOCK=$RUN_DIR/containerd.sock
KUBECONFIG_FILE=$STATE/kubeconfig
WAIT_TIMEOUT=${WAIT_TIMEOUT:-120}

# Addresses: everything lives in 198.18.0.0/15 (the benchmarking range), so no test traffic is
# ever aimed at a private-range address.
BRIDGE=shark0
CNI_NETWORK=kubectl-shark
CLUSTER_CIDR=198.18.0.0/16   # pods
NODE_POD_CIDR=198.18.0.0/24  # this node's pods
SERVICE_CIDR=198.19.0.0/16   # ClusterIPs
API_SERVICE_IP=198.19.0.1    # the `kubernetes` service
DNS_SERVICE_IP=198.19.0.10   # kube-dns (CoreDNS)

# Images every cluster has (built by images.sh, imported by up.sh).
PAUSE_IMAGE=registry.k8s.io/pause:3.10
COREDNS_IMAGE=docker.io/kubectl-shark/coredns:dev
WEB_IMAGE=docker.io/kubectl-shark/web:dev
REDIS_IMAGE=docker.io/kubectl-shark/redis:dev

# Host directories the components create outside $STATE when they are missing (hard-coded paths:
# the kubelet's device-plugin socket, containerd's shim sockets, libmount's utab, ...). up.sh
# records which ones were missing, down.sh removes those again as far as they are empty.
HOST_DIRS=(/var/lib/cni /var/lib/kubelet /var/log/containers /run/netns /run/containerd /run/mount /usr/libexec/kubernetes)

# The components up.sh starts, in start order (down.sh stops them in its own order).
COMPONENTS=(containerd etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)

# Sysctls the kubelet, kube-proxy, the CNI bridge or up.sh may change; up.sh saves them and
# down.sh restores them.
SYSCTLS=(
	net/ipv4/ip_forward
	net/bridge/bridge-nf-call-iptables
	net/ipv4/conf/all/route_localnet
	vm/overcommit_memory
	vm/panic_on_oom
	kernel/panic
	kernel/panic_on_oops
	kernel/keys/root_maxkeys
	kernel/keys/root_maxbytes
	net/netfilter/nf_conntrack_max
	net/netfilter/nf_conntrack_tcp_timeout_established
	net/netfilter/nf_conntrack_tcp_timeout_close_wait
)

export GOTOOLCHAIN=local
export PATH=$PATH:/usr/local/go/bin:/usr/sbin:/sbin

_T0=${EPOCHREALTIME}
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# elapsed: seconds (one decimal) since the script started.
elapsed() { awk -v a="${_T0}" -v b="${EPOCHREALTIME}" 'BEGIN{printf "%.1f", b-a}'; }
# log MSG...: a progress line on stdout, stamped with the seconds since the script started.
log() { printf '[%6ss] %s\n' "$(elapsed)" "$*"; }

# cluster_lock: serialize up.sh and down.sh, since several sessions may share this host's cluster
# (a second `make cluster-up` waits, then finds the cluster up). The lock is inherited by the
# scripts they call (SHARK_CLUSTER_LOCKED); daemons must not inherit fd 8 (see up.sh start()).
cluster_lock() {
	[ -z "${SHARK_CLUSTER_LOCKED:-}" ] || return 0
	mkdir -p /run/lock
	exec 8> /run/lock/kubectl-shark-cluster.lock
	if ! flock -n 8; then
		log "waiting for another cluster-up/cluster-down to finish (lock /run/lock/kubectl-shark-cluster.lock)"
		flock -w 900 8 || die "another cluster-up/cluster-down still holds the lock after 900 s"
	fi
	export SHARK_CLUSTER_LOCKED=1
}

need_root() { [ "$(id -u)" = 0 ] || die "$(basename "$0") must run as root (it starts containerd and the kubelet)"; }

# ---------------------------------------------------------------------------------------------
# Host packages. CI machines start fresh: install what is missing from Debian, idempotently.
# ensure_pkgs CMD_OR_PATH=PACKAGE...
ensure_pkgs() {
	local missing=() spec what pkg
	for spec in "$@"; do
		what=${spec%%=*} pkg=${spec#*=}
		if [[ $what == /* ]]; then [ -e "$what" ] && continue; else command -v "$what" >/dev/null && continue; fi
		missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	need_root
	log "installing Debian packages: ${missing[*]}"
	# Never let a package's maintainer script start a system service (redis-server, containerd):
	# a policy-rc.d that forbids it, only for the duration of the install and only if none exists.
	local policy_created=""
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && policy_created=1
	fi
	local rc=0
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}"; then
		apt-get -o DPkg::Lock::Timeout=600 update -q &&
			apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}" || rc=$?
	fi
	[ -n "$policy_created" ] && rm -f /usr/sbin/policy-rc.d
	[ $rc -eq 0 ] || die "apt-get install ${missing[*]} failed"
}

# Packages every cluster script needs (images.sh adds gcc/libc6-dev, redis-server, nginx-light and curl).
ensure_cluster_pkgs() {
	ensure_pkgs containerd=containerd ctr=containerd runc=runc \
		/usr/lib/cni/bridge=containernetworking-plugins /usr/lib/cni/host-local=containernetworking-plugins \
		/usr/lib/cni/portmap=containernetworking-plugins /usr/lib/cni/loopback=containernetworking-plugins \
		ip=iproute2 ss=iproute2 iptables=iptables ip6tables=iptables curl=curl openssl=openssl \
		flock=util-linux setsid=util-linux
	command -v go >/dev/null || die "Go is not installed (expected at /usr/local/go/bin/go)"
}

# ---------------------------------------------------------------------------------------------
# Node identity: detected, never hard-coded.
detect_node() {
	if [ -z "${NODE_IP:-}" ]; then
		local dev
		dev=$(ip -4 route show default 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "dev") {print $(i+1); exit}}')
		[ -n "$dev" ] && NODE_IP=$(ip -4 -o addr show dev "$dev" scope global | awk '{split($4, a, "/"); print a[1]; exit}')
		# no default route: the first global IPv4 address that is not our bridge's
		[ -n "${NODE_IP:-}" ] || NODE_IP=$(ip -4 -o addr show scope global | awk -v br="$BRIDGE" '$2 != br {split($4, a, "/"); print a[1]; exit}')
	fi
	[ -n "${NODE_IP:-}" ] || die "cannot detect the node IP (no global IPv4 address); set NODE_IP"
	NODE_NAME=${NODE_NAME:-$(tr '[:upper:]' '[:lower:]' < /proc/sys/kernel/hostname)}
	[[ $NODE_NAME =~ ^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$ ]] || die "hostname '$NODE_NAME' is not a valid node name; set NODE_NAME"
}

# ---------------------------------------------------------------------------------------------
# Cached builds (build.sh). The key covers the version, the Go toolchain, the build flags and
# every source file of the module, so an edit rebuilds and a fresh clone reuses the cache.
k8s_build_key() {
	(
		cd "$HC_DIR" || exit 1
		{
			echo "$K8S_VERSION $(go env GOVERSION) flags=v3"
			cat go.mod go.sum cmd/k8s/*.go
		} | sha256sum | cut -c1-16
	)
}
coredns_build_key() {
	(
		cd "$HC_DIR/coredns" || exit 1
		{
			echo "$COREDNS_VERSION $(go env GOVERSION) flags=v3"
			cat go.mod go.sum ./*.go
		} | sha256sum | cut -c1-16
	)
}
k8s_bin_dir() { echo "$CACHE/k8s-$K8S_VERSION-$(k8s_build_key)/bin"; }
coredns_bin() { echo "$CACHE/coredns-$COREDNS_VERSION-$(coredns_build_key)/coredns"; }

# K8S and KUBECTL: paths of the all-in-one binary and its kubectl symlink (build.sh builds them).
set_k8s_paths() {
	local d
	d=$(k8s_bin_dir)
	K8S=$d/k8s
	KUBECTL=$d/kubectl
}

# ---------------------------------------------------------------------------------------------
# Processes. A pid file holds "PID STARTTIME" (field 22 of /proc/PID/stat), so a recycled PID is
# never mistaken for ours.
proc_starttime() { awk '{sub(/^.*\) /, ""); print $20}' "/proc/$1/stat" 2>/dev/null; }

# pid_of NAME: print the recorded PID if that process is still alive, else nothing (exit 1).
pid_of() {
	local f=$STATE/pids/$1.pid pid st
	[ -f "$f" ] || return 1
	read -r pid st < "$f" || return 1
	[ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
	[ "$(proc_starttime "$pid")" = "$st" ] || return 1
	grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null && return 1
	echo "$pid"
}

# tail_log NAME [REASON]: the diagnostics printed when a component fails.
tail_log() {
	local f=$STATE/logs/$1.log
	{
		echo "---- ${2:-$1 failed}"
		if [ -f "$f" ]; then
			echo "---- last 30 lines of $f:"
			tail -n 30 "$f"
		else
			echo "---- (no log at $f)"
		fi
		echo "----"
	} >&2
}

# wait_for DESC COMPONENT CMD...: poll CMD (every 0.25 s) until it succeeds, for at most
# WAIT_TIMEOUT seconds. Fails early if COMPONENT's process died (COMPONENT "-" for none); on
# failure prints COMPONENT's log tail and returns 1.
wait_for() {
	local desc=$1 comp=$2 deadline
	shift 2
	deadline=$(($(date +%s) + WAIT_TIMEOUT))
	until "$@" >/dev/null 2>&1; do
		if [ "$comp" != - ] && ! pid_of "$comp" >/dev/null; then
			tail_log "$comp" "$comp exited while waiting for: $desc"
			return 1
		fi
		if [ "$(date +%s)" -ge "$deadline" ]; then
			[ "$comp" != - ] && tail_log "$comp" "timed out after ${WAIT_TIMEOUT}s waiting for: $desc"
			[ "$comp" = - ] && echo "timed out after ${WAIT_TIMEOUT}s waiting for: $desc" >&2
			return 1
		fi
		sleep 0.25
	done
}

# kc ARGS...: the cluster's own kubectl with the cluster's admin kubeconfig.
kc() { "$KUBECTL" --kubeconfig "$KUBECONFIG_FILE" --cache-dir "$STATE/kube-cache" "$@"; }
