#!/bin/bash
# up.sh: bring up the single-node Kubernetes v1.33 test cluster of kubectl-shark (idempotent).
#
# Runs etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and kube-proxy
# (one cached all-in-one binary, see build.sh) on a dedicated containerd (Debian's, with its own
# socket, root and config; never the system one), CNI bridge networking on the bridge shark0
# (pods 198.18.0.0/16, services 198.19.0.0/16) and CoreDNS. Already up and healthy: says so and
# exits 0. Partly up: tears the rest down first. A component that dies or a readiness wait that
# exceeds WAIT_TIMEOUT (120 s) prints the component's log tail, tears down what was started
# (unless SHARK_CLUSTER_KEEP=1) and exits 1.
#
# State: $STATE (/var/tmp/kubectl-shark-cluster), $RUN_DIR (/run/kubectl-shark-cluster). Outside
# them it touches: the shark0 bridge, iptables KUBE-*/CNI-* chains, kubepods cgroups, sysctls
# (saved, restored by down.sh), /var/log/containers, /var/lib/cni, /run/netns (removed by down.sh
# when it created them).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need_root
cluster_lock

# ---------------------------------------------------------------------------------------------
# Is it already up?
components_alive() {
	local c
	for c in "${COMPONENTS[@]}"; do pid_of "$c" >/dev/null || return 1; done
}
any_alive() {
	local c
	for c in "${COMPONENTS[@]}"; do pid_of "$c" >/dev/null && return 0; done
	return 1
}
api_ready() {
	curl -sf --max-time 5 --cacert "$STATE/pki/ca.crt" --cert "$STATE/pki/admin.crt" --key "$STATE/pki/admin.key" \
		"https://$NODE_IP:6443/readyz" >/dev/null 2>&1
}
node_ready() {
	[ "$(kc get node "$NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}
dns_ready() {
	[ "$(kc -n kube-system get deploy coredns -o 'jsonpath={.status.readyReplicas}' 2>/dev/null)" -ge 1 ] 2>/dev/null
}

usage_hint() {
	cat <<EOF
cluster is up: node $NODE_NAME ($NODE_IP), pods $CLUSTER_CIDR, services $SERVICE_CIDR, DNS $DNS_SERVICE_IP
  export KUBECONFIG=$KUBECONFIG_FILE
  export PATH=$(dirname "$KUBECTL"):\$PATH    # kubectl $K8S_VERSION: $KUBECTL
  kubectl get nodes
  make cluster-load IMAGE=FILE.tar    # import a docker-archive/OCI tarball (pods: imagePullPolicy: IfNotPresent)
  make cluster-down                   # stop (WIPE=1 also deletes $STATE)
EOF
}

ensure_cluster_pkgs
detect_node
if [ -x "$(k8s_bin_dir)/k8s" ]; then set_k8s_paths; fi
if [ -n "${K8S:-}" ] && components_alive && api_ready && node_ready && dns_ready; then
	log "cluster already up and healthy"
	usage_hint
	exit 0
fi
if any_alive; then
	log "cluster is partly up: stopping the rest first"
	"$HC_DIR/down.sh"
fi

# Nothing of ours runs now. Refuse to share the host with another Kubernetes node.
for p in /proc/[0-9]*; do
	case $(cat "$p/comm" 2>/dev/null) in
	kubelet | kube-proxy | kube-apiserver | etcd)
		die "another $(cat "$p/comm") (pid ${p#/proc/}) runs on this host; the test cluster cannot share it" ;;
	esac
done
for port in 2379 2380 2381 6443 10248 10249 10250 10256 10257 10259; do
	if ss -Hltn "sport = :$port" | grep -q .; then
		die "TCP port $port is in use: $(ss -Hltnp "sport = :$port" | head -1)"
	fi
done

# ---------------------------------------------------------------------------------------------
# Binaries (cached), PKI, images.
"$HC_DIR/build.sh" all | sed 's/^/  /'
set_k8s_paths
mkdir -p "$STATE"/{logs,pids,host,config,etcd,kubelet,pod-logs} "$RUN_DIR"
pki_rc=0
"$HC_DIR/pki.sh" || pki_rc=$?
case $pki_rc in
0) ;;
3)
	log "node identity changed: discarding the old cluster data (etcd, kubelet)"
	rm -rf "$STATE/etcd" "$STATE/kubelet" "$STATE/cni/ipam"
	mkdir -p "$STATE/etcd" "$STATE/kubelet"
	;;
*) die "generating the PKI failed" ;;
esac
"$HC_DIR/images.sh" pause coredns | sed 's/^/  /'

fail() {
	echo "ERROR: cluster-up failed: $*" >&2
	echo "logs: $STATE/logs/" >&2
	if [ "${SHARK_CLUSTER_KEEP:-0}" != 1 ]; then
		echo "tearing down what was started (SHARK_CLUSTER_KEEP=1 keeps it for debugging)" >&2
		"$HC_DIR/down.sh" >&2 || true
	fi
	exit 1
}
trap 'fail "unexpected error at line $LINENO"' ERR

# ---------------------------------------------------------------------------------------------
# Configuration files.
P=$STATE/pki C=$STATE/config
mkdir -p "$STATE/cni/net.d" "$STATE/cni/ipam" "$STATE/containerd/root" "$STATE/containerd/opt"

cat > "$C/containerd.toml" <<EOF
# Dedicated containerd for the kubectl-shark test cluster (written by hack/cluster/up.sh).
version = 2
root = "$STATE/containerd/root"
state = "$RUN_DIR/containerd"
[grpc]
  address = "$SOCK"
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$STATE/containerd/opt"
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "$PAUSE_IMAGE"
    # The test machines' capability bounding set lacks CAP_SYS_RESOURCE: runc cannot apply the
    # negative oom_score_adj the kubelet asks for (-998 for sandboxes) and fails with "can't get
    # final child's PID from pipe: EOF". Clamp it to containerd's own score instead.
    restrict_oom_score_adj = true
    disable_apparmor = true
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
          Root = "$RUN_DIR/runc"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "$STATE/cni/net.d"
      max_conf_num = 1
EOF

cat > "$STATE/cni/net.d/10-$CNI_NETWORK.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$CNI_NETWORK",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$STATE/cni/ipam",
        "ranges": [[{"subnet": "$NODE_POD_CIDR"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF

cat > "$C/kubelet.yaml" <<EOF
# kubelet of the kubectl-shark test cluster (written by hack/cluster/up.sh)
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $P/ca.crt}
authorization: {mode: Webhook}
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$SOCK
tlsCertFile: $P/kubelet-serving.crt
tlsPrivateKeyFile: $P/kubelet-serving.key
clusterDomain: cluster.local
clusterDNS: [$DNS_SERVICE_IP]
# no host resolv.conf: pods get cluster DNS only, nothing is forwarded off the machine
resolvConf: ""
failSwapOn: false
podCIDR: $NODE_POD_CIDR
staticPodPath: ""
podLogsDir: $STATE/pod-logs
volumePluginDir: $STATE/kubelet/volume-plugins
shutdownGracePeriod: 0s
# small eviction thresholds, so tests on a busy disk are not evicted
evictionHard: {memory.available: "100Mi", nodefs.available: "2%", imagefs.available: "2%"}
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 98
EOF

sed -e "s|@DNS_SERVICE_IP@|$DNS_SERVICE_IP|g" -e "s|@COREDNS_IMAGE@|$COREDNS_IMAGE|g" \
	-e "s|@CONFIG_HASH@|$(sha256sum "$HC_DIR/manifests/coredns.yaml" | cut -c1-16)|g" \
	"$HC_DIR/manifests/coredns.yaml" > "$C/coredns.yaml"

# ---------------------------------------------------------------------------------------------
# Host: remember what we change, so down.sh can restore it.
H=$STATE/host
if [ ! -f "$H/sysctl.saved" ]; then
	for s in "${SYSCTLS[@]}"; do
		if [ -f "/proc/sys/$s" ]; then echo "$s $(cat "/proc/sys/$s")"; fi
	done > "$H/sysctl.saved"
fi
if [ ! -f "$H/iptables.before" ]; then
	for ipt in iptables ip6tables; do
		for t in filter nat mangle raw; do
			$ipt -t $t -S 2>/dev/null | awk -v i=$ipt -v t=$t '$1 == "-N" {print i, t, $2}'
		done
	done > "$H/iptables.before"
fi
if [ ! -f "$H/nft.before" ] && command -v nft >/dev/null; then
	nft list tables > "$H/nft.before" 2>/dev/null || true
fi
for d in "${HOST_DIRS[@]}"; do
	marker=$H/created$(echo "$d" | tr / _)
	if [ ! -e "$d" ] && [ ! -e "$marker" ]; then touch "$marker"; fi
done
echo 1 > /proc/sys/net/ipv4/ip_forward
if [ -f /proc/sys/net/bridge/bridge-nf-call-iptables ]; then
	echo 1 > /proc/sys/net/bridge/bridge-nf-call-iptables
else
	warn "br_netfilter is not loaded: Service traffic between pods on the same bridge may not work"
fi

# ---------------------------------------------------------------------------------------------
# start NAME CMD...: run CMD as a daemon in its own session (so Ctrl-C or CI killing the caller's
# process group does not kill it), log to $STATE/logs/NAME.log, record "PID STARTTIME". In a
# non-interactive bash a background child is never a process-group leader, so setsid(1) does
# not fork and $! is the daemon itself.
start() {
	local name=$1 pid
	shift
	if [ -f "$STATE/logs/$name.log" ]; then mv -f "$STATE/logs/$name.log" "$STATE/logs/$name.log.1"; fi
	setsid "$@" > "$STATE/logs/$name.log" 2>&1 < /dev/null 8>&- &
	pid=$!
	echo "$pid $(proc_starttime "$pid")" > "$STATE/pids/$name.pid"
	log "started $name (pid $pid)"
}
# wait_ready NAME DESC CMD...: wait_for + tear down on failure
wait_ready() {
	local name=$1 desc=$2
	shift 2
	wait_for "$desc" "$name" "$@" || fail "$name: $desc"
	log "$desc"
}
https_ok() { curl -sfk --max-time 3 "$1" >/dev/null; }

# 1. containerd (image pulls go to a dead loopback proxy: this cluster never pulls from the
#    Internet; load images with `make cluster-load`)
start containerd env HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY= \
	containerd --config "$C/containerd.toml"
wait_ready containerd "containerd CRI ready" "$K8S" cri-ready "$SOCK"
for img in pause coredns; do
	"$HC_DIR/load.sh" "$STATE/images/$img.tar" | sed 's/^/  /' || fail "loading $img.tar into containerd"
done

# 2. etcd (embedded v3.5, plain http on loopback only)
start etcd "$K8S" etcd --name="$NODE_NAME" --data-dir="$STATE/etcd" \
	--listen-client-urls=http://127.0.0.1:2379 --advertise-client-urls=http://127.0.0.1:2379 \
	--listen-peer-urls=http://127.0.0.1:2380 --initial-advertise-peer-urls=http://127.0.0.1:2380 \
	--initial-cluster="$NODE_NAME=http://127.0.0.1:2380" --listen-metrics-urls=http://127.0.0.1:2381 \
	--log-level=warn
wait_ready etcd "etcd healthy" bash -c 'curl -sf --max-time 3 http://127.0.0.1:2379/health | grep -q "\"health\":\"true\""'

# 3. kube-apiserver
start kube-apiserver "$K8S" kube-apiserver \
	--etcd-servers=http://127.0.0.1:2379 \
	--advertise-address="$NODE_IP" --bind-address="$NODE_IP" --secure-port=6443 \
	--allow-privileged=true --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
	--client-ca-file="$P/ca.crt" --tls-cert-file="$P/apiserver.crt" --tls-private-key-file="$P/apiserver.key" \
	--kubelet-client-certificate="$P/apiserver-kubelet-client.crt" --kubelet-client-key="$P/apiserver-kubelet-client.key" \
	--kubelet-certificate-authority="$P/ca.crt" --kubelet-preferred-address-types=InternalIP,Hostname \
	--service-account-issuer=https://kubernetes.default.svc.cluster.local \
	--service-account-key-file="$P/sa.pub" --service-account-signing-key-file="$P/sa.key" \
	--service-cluster-ip-range="$SERVICE_CIDR" --profiling=false
wait_ready kube-apiserver "kube-apiserver ready" api_ready

# 4. controller-manager, scheduler
start kube-controller-manager "$K8S" kube-controller-manager \
	--kubeconfig="$P/controller-manager.conf" --authentication-kubeconfig="$P/controller-manager.conf" \
	--authorization-kubeconfig="$P/controller-manager.conf" --bind-address=127.0.0.1 --leader-elect=false \
	--client-ca-file="$P/ca.crt" --root-ca-file="$P/ca.crt" \
	--cluster-signing-cert-file="$P/ca.crt" --cluster-signing-key-file="$P/ca.key" \
	--service-account-private-key-file="$P/sa.key" --use-service-account-credentials=true \
	--allocate-node-cidrs=true --cluster-cidr="$CLUSTER_CIDR" --node-cidr-mask-size=24 \
	--service-cluster-ip-range="$SERVICE_CIDR" --profiling=false \
	--flex-volume-plugin-dir="$STATE/kubelet/volume-plugins"
start kube-scheduler "$K8S" kube-scheduler \
	--kubeconfig="$P/scheduler.conf" --authentication-kubeconfig="$P/scheduler.conf" \
	--authorization-kubeconfig="$P/scheduler.conf" --bind-address=127.0.0.1 --leader-elect=false --profiling=false

# 5. kubelet, kube-proxy (iptables mode; conntrack sysctls left alone)
start kubelet "$K8S" kubelet \
	--config="$C/kubelet.yaml" --kubeconfig="$P/kubelet.conf" --root-dir="$STATE/kubelet" \
	--node-ip="$NODE_IP" --hostname-override="$NODE_NAME" --v=1
start kube-proxy "$K8S" kube-proxy \
	--kubeconfig="$P/kube-proxy.conf" --hostname-override="$NODE_NAME" --cluster-cidr="$CLUSTER_CIDR" \
	--proxy-mode=iptables --nodeport-addresses=primary --iptables-localhost-nodeports=false \
	--conntrack-max-per-core=0 --conntrack-tcp-timeout-established=0 --conntrack-tcp-timeout-close-wait=0 \
	--metrics-bind-address=127.0.0.1:10249 --healthz-bind-address=127.0.0.1:10256
wait_ready kube-controller-manager "kube-controller-manager healthy" https_ok https://127.0.0.1:10257/healthz
wait_ready kube-scheduler "kube-scheduler healthy" https_ok https://127.0.0.1:10259/healthz
wait_ready kubelet "kubelet healthy" curl -sf --max-time 3 http://127.0.0.1:10248/healthz
wait_ready kubelet "node $NODE_NAME Ready" node_ready
wait_ready kube-proxy "kube-proxy healthy" curl -sf --max-time 3 http://127.0.0.1:10256/healthz

# 6. CoreDNS (needs the default ServiceAccount machinery of kube-system)
wait_ready kube-controller-manager "kube-system/default ServiceAccount exists" kc -n kube-system get serviceaccount default
kc apply -f "$C/coredns.yaml" > /dev/null || fail "applying $C/coredns.yaml"
if ! kc -n kube-system rollout status deploy/coredns --timeout="${WAIT_TIMEOUT}s" > /dev/null; then
	{
		echo "---- CoreDNS did not become ready; its pods:"
		kc -n kube-system get pods -l k8s-app=kube-dns -o wide || true
		kc -n kube-system describe pods -l k8s-app=kube-dns | tail -n 30 || true
		kc -n kube-system logs -l k8s-app=kube-dns --tail=30 || true
	} >&2
	tail_log kubelet "CoreDNS rollout timed out after ${WAIT_TIMEOUT}s"
	fail "CoreDNS rollout"
fi
wait_ready kubelet "CoreDNS ready" dns_ready
wait_ready kube-controller-manager "default/default ServiceAccount exists" kc -n default get serviceaccount default
trap - ERR

log "cluster up in $(elapsed) s"
usage_hint
