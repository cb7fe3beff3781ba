# cluster.mk: the single-node Kubernetes test cluster of kubectl-shark (hack/cluster/README.md).
# Include it from the root Makefile:   include hack/cluster/cluster.mk
#
#   make cluster-up                   start it (idempotent; builds and caches k8s once, ~7 min cold)
#   make -s cluster-kubeconfig        print the admin kubeconfig's path, nothing else
#   make -s cluster-kubectl           print the path of the cluster's kubectl, nothing else
#   make cluster-load IMAGE=FILE.tar [NAME=REF]   import a docker-archive/OCI tarball (namespace k8s.io)
#   make cluster-images               build the test/demo images (pause, coredns, web, redis) and load them
#   make cluster-smoke                end-to-end smoke test of the running cluster (SMOKE_ARGS=--restart
#                                     also checks up-twice and down-then-up)
#   make cluster-down [WIPE=1]        stop it and clean the host; WIPE=1 also deletes the state dir
#   make cluster-build                only build (or find in the cache) the binaries
#
# Environment: SHARK_CLUSTER_STATE (state dir, /var/tmp/kubectl-shark-cluster), WAIT_TIMEOUT (s).

CLUSTER_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

.PHONY: cluster-up cluster-down cluster-kubeconfig cluster-kubectl cluster-load cluster-images \
	cluster-smoke cluster-build

cluster-build:
	@$(CLUSTER_DIR)/build.sh all

cluster-up:
	@$(CLUSTER_DIR)/up.sh

cluster-down:
	@WIPE=$(WIPE) $(CLUSTER_DIR)/down.sh

cluster-kubeconfig:
	@$(CLUSTER_DIR)/kubeconfig.sh

cluster-kubectl:
	@$(CLUSTER_DIR)/kubeconfig.sh --kubectl

cluster-load:
	@test -n "$(IMAGE)" || { echo "usage: make cluster-load IMAGE=FILE.tar [NAME=REF]" >&2; exit 2; }
	@$(CLUSTER_DIR)/load.sh "$(IMAGE)" $(NAME)

cluster-images:
	@$(CLUSTER_DIR)/images.sh --load

cluster-smoke:
	@$(CLUSTER_DIR)/smoke.sh $(SMOKE_ARGS)
