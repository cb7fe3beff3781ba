#!/bin/bash
# shellcheck disable=SC2317  # the check functions are invoked indirectly, through check()
# smoke.sh [--restart]: end-to-end smoke test of the running test cluster (make cluster-smoke).
#
# Checks: node Ready; a 2-replica Deployment of the web image rolls out; pod-to-pod HTTP; kubectl
# exec; kubectl logs; kubectl port-forward; a ClusterIP Service through kube-proxy; a hostPID pod
# finds the target container's process (its /proc/PID/cgroup names the container ID); cluster DNS
# (CoreDNS) resolves the Service; the demo client loop (DNS + HTTP + Redis) against the images of
# `make cluster-images`.
# --restart first checks idempotency: up.sh on a running cluster says "already up", and
# down.sh then up.sh brings it back (the cluster must be up, or is started first).
#
# Prints one PASS/FAIL line per check and finally "N passed, N failed"; exits 1 on any failure.
# Waits only on readiness signals (kubectl rollout/wait, polling with a deadline), never sleeps.
# SMOKE_KEEP=1 keeps the shark-smoke namespace for inspection.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need_root

NS=shark-smoke
passed=0 failed=0
pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
# check DESC CMD...: PASS with CMD's one-line output, or FAIL with its output
check() {
	local desc=$1 out rc=0
	shift
	out=$("$@" 2>&1) || rc=$?
	if [ $rc -eq 0 ]; then
		pass "$desc${out:+ ($(echo "$out" | tail -n 1 | cut -c1-160))}"
	else
		fail "$desc (exit $rc): $(echo "$out" | tail -n 5 | tr '\n' ' ' | cut -c1-400)"
	fi
	return 0
}
finish() {
	echo "smoke test took $(elapsed) s"
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}

detect_node
set_k8s_paths

# ---------------------------------------------------------------------------------------------
if [ "${1:-}" = --restart ]; then
	if ! "$HC_DIR/up.sh" > "$STATE/logs/smoke-up0.log" 2>&1 && [ ! -f "$KUBECONFIG_FILE" ]; then
		fail "initial cluster-up: $(tail -n 5 "$STATE/logs/smoke-up0.log" | tr '\n' ' ')"
		finish
	fi
	up_again() {
		local out
		out=$("$HC_DIR/up.sh" 2>&1) || { echo "$out" | tail -n 5; return 1; }
		echo "$out" | grep -q 'already up and healthy' || { echo "did not detect the running cluster"; return 1; }
		echo "second cluster-up: already up and healthy, exit 0"
	}
	check "cluster-up twice is idempotent" up_again
	down_clean() {
		local out n left=""
		out=$("$HC_DIR/down.sh" 2>&1) || { echo "$out" | tail -n 5; return 1; }
		for n in "${COMPONENTS[@]}"; do pid_of "$n" >/dev/null && left="$left $n"; done
		[ -z "$left" ] || { echo "still running:$left"; return 1; }
		! ip link show "$BRIDGE" >/dev/null 2>&1 || { echo "bridge $BRIDGE still exists"; return 1; }
		! grep -qE " ($STATE|$RUN_DIR)/" /proc/mounts || { echo "mounts left: $(grep -E " ($STATE|$RUN_DIR)/" /proc/mounts | head -3)"; return 1; }
		! iptables-save | grep -qE '^:(KUBE|CNI)-' || { echo "iptables chains left: $(iptables-save | grep -E '^:(KUBE|CNI)-' | head -3)"; return 1; }
		echo "down: no component, bridge, mount or KUBE-/CNI- chain left"
	}
	check "cluster-down leaves nothing behind" down_clean
	up_after_down() {
		local out
		out=$("$HC_DIR/up.sh" 2>&1) || { echo "$out" | tail -n 8; return 1; }
		echo "$out" | grep 'cluster up in'
	}
	check "cluster-up after cluster-down" up_after_down
fi

# ---------------------------------------------------------------------------------------------
if [ ! -x "$KUBECTL" ] || [ ! -f "$KUBECONFIG_FILE" ]; then
	fail "the cluster is not up (make cluster-up)"
	finish
fi
check "node $NODE_NAME Ready" kc wait --for=condition=Ready "node/$NODE_NAME" --timeout=60s

# images (reproducible: an unchanged image is a no-op to load) and a fresh namespace
if ! "$HC_DIR/images.sh" --load web redis > "$STATE/logs/smoke-images.log" 2>&1; then
	fail "building/loading the web and redis images: $(tail -n 5 "$STATE/logs/smoke-images.log" | tr '\n' ' ')"
	finish
fi
# (a previous run's namespace may still be terminating: wait until it is gone)
kc delete namespace "$NS" --ignore-not-found --wait=true --timeout="${WAIT_TIMEOUT}s" >/dev/null
sed -e "s|@WEB_IMAGE@|$WEB_IMAGE|g" -e "s|@REDIS_IMAGE@|$REDIS_IMAGE|g" "$HC_DIR/manifests/smoke.yaml" |
	kc apply -f - >/dev/null

t=$SECONDS
if kc -n "$NS" rollout status deploy/web --timeout="${WAIT_TIMEOUT}s" >/dev/null; then
	pass "Deployment web rolled out: $(kc -n "$NS" get deploy web -o 'jsonpath={.status.readyReplicas}')/2 replicas ready in $((SECONDS - t)) s"
else
	fail "Deployment web did not roll out: $(kc -n "$NS" get pods -o wide 2>&1 | tail -n 3 | tr '\n' ' ')"
	kc -n "$NS" describe pods -l app=web | tail -n 20
	finish
fi
mapfile -t W < <(kc -n "$NS" get pods -l app=web --field-selector=status.phase=Running -o 'jsonpath={range .items[*]}{.metadata.name}{"\n"}{end}')
ip_of() { kc -n "$NS" get pod "$1" -o 'jsonpath={.status.podIP}'; }
W0=${W[0]} W1=${W[1]}
W0IP=$(ip_of "$W0") W1IP=$(ip_of "$W1")

# pod-to-pod HTTP, both directions (also exercises kubectl exec)
http_expect() { # http_expect POD URL EXPECTED-SUBSTRING
	local out
	out=$(kc -n "$NS" exec "$1" -- /web get "$2") || { echo "$out"; return 1; }
	echo "$out" | grep -qF "$3" || { echo "unexpected answer: $out"; return 1; }
	echo "$out"
}
check "pod-to-pod HTTP $W0 -> $W1 ($W1IP)" http_expect "$W0" "http://$W1IP/smoke-a" "200 hello from $W1"
check "pod-to-pod HTTP $W1 -> $W0 ($W0IP)" http_expect "$W1" "http://$W0IP/smoke-b" "200 hello from $W0"

exec_hostname() {
	local out
	out=$(kc -n "$NS" exec "$W0" -c web -- /web hostname) || return 1
	[ "$out" = "$W0" ] || { echo "hostname is '$out', want $W0"; return 1; }
	echo "kubectl exec $W0 -- /web hostname: $out"
}
check "kubectl exec" exec_hostname

logs_has() {
	local out
	out=$(kc -n "$NS" logs "$W1") || return 1
	echo "$out" | grep -E "GET /smoke-a 200" || { echo "no 'GET /smoke-a 200' in: $(echo "$out" | tail -n 3)"; return 1; }
}
check "kubectl logs" logs_has

# port-forward on a free local port; ready when kubectl prints "Forwarding from 127.0.0.1:PORT"
port_forward() {
	local out=$STATE/logs/smoke-port-forward.log pf port="" deadline rc=0 body
	kc -n "$NS" port-forward "pod/$W0" :80 > "$out" 2>&1 &
	pf=$!
	deadline=$(($(date +%s) + 30))
	while [ -z "$port" ]; do
		port=$(grep -oE 'Forwarding from 127\.0\.0\.1:[0-9]+' "$out" | grep -oE '[0-9]+$' || true)
		if [ -z "$port" ]; then
			if ! kill -0 "$pf" 2>/dev/null || [ "$(date +%s)" -ge "$deadline" ]; then
				cat "$out"
				kill "$pf" 2>/dev/null || true
				wait "$pf" 2>/dev/null || true
				return 1
			fi
			sleep 0.1
		fi
	done
	body=$(curl -sS --max-time 10 "http://127.0.0.1:$port/port-forward") || rc=1
	kill "$pf" 2>/dev/null || true
	wait "$pf" 2>/dev/null || true
	if [ "$rc" -ne 0 ] || ! echo "$body" | grep -qF "200 hello from $W0"; then
		echo "127.0.0.1:$port answered '$body'; kubectl port-forward said: $(tail -n 3 "$out")"
		return 1
	fi
	echo "127.0.0.1:$port -> $W0:80: $body"
}
check "kubectl port-forward" port_forward

SVC_IP=$(kc -n "$NS" get svc web -o 'jsonpath={.spec.clusterIP}')
check "ClusterIP Service web ($SVC_IP) via kube-proxy" http_expect "$W0" "http://$SVC_IP/clusterip" "200 hello from"

# hostPID: find the web container's process from another pod, by its container ID
host_pid() {
	local cid out pid comm
	kc -n "$NS" wait --for=condition=Ready pod/probe --timeout="${WAIT_TIMEOUT}s" >/dev/null || return 1
	cid=$(kc -n "$NS" get pod "$W0" -o 'jsonpath={.status.containerStatuses[?(@.name=="web")].containerID}')
	cid=${cid#containerd://}
	out=$(kc -n "$NS" exec probe -- /web findpid "$cid") || { echo "$out"; return 1; }
	read -r pid comm <<< "$(echo "$out" | head -n 1)"
	[ "$comm" = web ] || { echo "found '$out', want a process named web"; return 1; }
	# the same PID on the host is that container's process
	grep -q "$cid" "/proc/$pid/cgroup" || { echo "host /proc/$pid/cgroup does not name $cid"; return 1; }
	echo "hostPID pod sees pid $pid ($comm) in the cgroup of container ${cid:0:13} of $W0"
}
check "hostPID pod finds the target container's PID" host_pid

# cluster DNS (CoreDNS via the kube-dns ClusterIP): short name (search path) and FQDN
dns_is() { # dns_is NAME WANT
	local out
	out=$(kc -n "$NS" exec "$W0" -- /web lookup "$1") || { echo "$out"; return 1; }
	[ "$out" = "$2" ] || { echo "$1 -> $out, want $2"; return 1; }
	echo "$1 -> $out"
}
check "cluster DNS resolves the Service (short name)" dns_is web "$SVC_IP"
check "cluster DNS resolves the Service (FQDN)" dns_is "web.$NS.svc.cluster.local" "$SVC_IP"
check "cluster DNS resolves kubernetes.default" dns_is kubernetes.default.svc.cluster.local "$API_SERVICE_IP"

# the demo client: bounded loop, resolves the names via cluster DNS, HTTP + Redis SET/GET/DEL
demo_client() {
	local out
	kc -n "$NS" rollout status deploy/redis --timeout="${WAIT_TIMEOUT}s" >/dev/null || return 1
	out=$(kc -n "$NS" exec "$W0" -- /web client -n 3 -interval 100ms -redis redis:6379 http://web/demo) || { echo "$out"; return 1; }
	if [ "$(echo "$out" | grep -c 'status=200')" != 3 ] || [ "$(echo "$out" | grep -c 'SET/GET/DEL .* ok')" != 3 ] ||
		! echo "$out" | grep -q 'done: 3 iterations, 0 failures'; then
		echo "$out"
		return 1
	fi
	echo "$out" | tail -n 1
}
check "demo client loop (DNS + HTTP + Redis image)" demo_client

if [ "${SMOKE_KEEP:-0}" != 1 ]; then
	kc delete namespace "$NS" --wait=false >/dev/null 2>&1 || true
fi
finish
