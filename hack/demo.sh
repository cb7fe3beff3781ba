#!/bin/bash
# make demo: the main job, end to end, on the local single-node cluster.
#   1. brings the cluster up if needed (hack/cluster/up.sh; builds and caches k8s once)
#   2. builds the plugin and the sniffer image (no Docker), loads the images
#   3. deploys the demo app: checkout (2 replicas; every 5th request answers 500, every
#      7th takes 1.5 s), redis, and a client that resolves names through cluster DNS
#   4. kubectl shark capture deploy/checkout, then entries with KFL filters, an export
#      to PCAPNG with its summary, and delete.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
step() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }

step "local cluster"
hack/cluster/up.sh
export KUBECONFIG=$(hack/cluster/kubeconfig.sh)
kubectl=$(hack/cluster/kubeconfig.sh --kubectl)
socket=/run/kubectl-shark-cluster/containerd.sock

step "building kubectl-shark and the sniffer image"
make -s build
image=docker.io/kubectl-shark/sniffer:demo
images/sniffer/build.sh _output/images/sniffer-demo.tar "$image" >&2
hack/cluster/load.sh _output/images/sniffer-demo.tar >&2
hack/cluster/images.sh --load web redis >&2
# `kubectl shark` finds the plugin on PATH.
export PATH=$root/bin:$PATH
shark() { printf '$ kubectl shark' >&2; printf ' %q' "$@" >&2; echo >&2; "$kubectl" shark "$@"; }

step "demo app"
"$kubectl" apply -f hack/cluster/manifests/demo.yaml >&2
for d in checkout redis client; do
	"$kubectl" -n shark-demo rollout status "deploy/$d" --timeout=180s >&2
done

step "capture the checkout deployment"
"$kubectl" shark delete demo -n shark-demo >/dev/null 2>&1 || true
shark capture deploy/checkout -n shark-demo --name demo --ttl 30m --image "$image" --runtime-socket "$socket"

step "waiting for failing requests to show up"
for i in $(seq 1 60); do
	n=$("$kubectl" shark entries demo -n shark-demo -q --kfl 'http && status_code >= 500' -o json | wc -l)
	[ "$n" -ge 2 ] && break
	sleep 1 # the client sends one round of requests per second
done

step "entries: failing requests"
shark entries demo -n shark-demo --kfl 'http && status_code >= 500'
step "entries: slow requests (over 1 s), as JSON"
shark entries demo -n shark-demo --kfl 'http && elapsed_time > 1000000' -o json --limit 2
step "status of the sniffers"
shark get demo -n shark-demo

step "export the failing streams"
mkdir -p _output
shark export demo -n shark-demo --kfl 'http && status_code >= 500' -w _output/demo.pcapng
capinfos -c -i -u _output/demo.pcapng 2>/dev/null
tshark -r _output/demo.pcapng -Y 'http.response.code >= 500' 2>/dev/null | head -5

step "cleaning up"
shark delete demo -n shark-demo
echo >&2
echo "Done. The export is _output/demo.pcapng (open it in Wireshark). The cluster keeps running: 'make cluster-down' stops it." >&2
