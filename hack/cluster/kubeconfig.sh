#!/bin/bash
# kubeconfig.sh [--kubectl]: print the path of the test cluster's admin kubeconfig (or, with
# --kubectl, of its kubectl) and nothing else, for KUBECONFIG=$(make -s cluster-kubeconfig).
# Exits 1 (message on stderr) if it does not exist yet: run `make cluster-up` first.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if [ "${1:-}" = --kubectl ]; then
	f=$(k8s_bin_dir)/kubectl
	[ -x "$f" ] || die "$f does not exist yet (make cluster-up, or hack/cluster/build.sh k8s)"
else
	f=$KUBECONFIG_FILE
	[ -f "$f" ] || die "$f does not exist yet (make cluster-up)"
fi
echo "$f"
