# kubectl-shark — build, test, demo.
#   make demo   bring up a local cluster if needed, deploy a demo app, capture it,
#               show entries and a PCAPNG
#   make test   every test tier, installing what it needs (Debian packages, Go tools)

SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo v0.0.0-dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
DATE    ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
PKG := github.com/kubectl-shark/kubectl-shark
LDFLAGS := -s -w -X $(PKG)/internal/version.Version=$(VERSION) \
	-X $(PKG)/internal/version.Commit=$(COMMIT) -X $(PKG)/internal/version.Date=$(DATE)
GOBIN ?= $(shell $(GO) env GOPATH)/bin

.PHONY: all build deps test test-unit test-integration e2e demo lint fmt tidy-check imports-check clean generate verify-generate

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/kubectl-shark ./cmd/kubectl-shark

deps:
	@hack/deps.sh

## test: every tier (lint, unit, privileged integration, end-to-end on the local
## cluster). The cluster is stopped at the end whatever the result.
test: deps lint verify-generate test-unit test-dist test-integration
	@rc=0; $(MAKE) --no-print-directory e2e || rc=$$?; \
	$(MAKE) --no-print-directory cluster-down WIPE=1 || rc=$$((rc ? rc : 1)); exit $$rc

test-unit:
	$(GO) test -race -count=1 ./pkg/... ./internal/... ./cmd/... ./bpf/...

# Privileged integration tests: real network namespaces, servers and clients, tshark.
test-integration:
	$(GO) test -count=1 -timeout 20m ./test/integration/...

## demo: the main job on the local cluster (brought up if needed)
demo: deps
	hack/demo.sh

# End-to-end tests against the local single-node cluster (started if needed).
E2E_IMAGE := docker.io/kubectl-shark/sniffer:e2e
CLUSTER_SOCKET := /run/kubectl-shark-cluster/containerd.sock
e2e: cluster-up
	hack/cluster/smoke.sh --restart
	hack/cluster/images.sh --load web tls
	images/sniffer/build.sh _output/images/sniffer-e2e.tar $(E2E_IMAGE)
	hack/cluster/load.sh _output/images/sniffer-e2e.tar
	KUBECONFIG=$$(hack/cluster/kubeconfig.sh) KUBECTL=$$(hack/cluster/kubeconfig.sh --kubectl) \
	SHARK_IMAGE=$(E2E_IMAGE) SHARK_RUNTIME_SOCKET=$(CLUSTER_SOCKET) \
	$(GO) test -count=1 -timeout 30m ./test/e2e/...

lint: imports-check tidy-check verify-docs
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GOBIN)/staticcheck ./...

# pkg/dissect, pkg/kfl and pkg/export must never depend on Kubernetes code.
imports-check:
	@bad=$$($(GO) list -deps ./pkg/dissect/... ./pkg/kfl/... ./pkg/export/... ./pkg/capfilter/... ./pkg/streamsel/... | grep -E '^(k8s\.io|sigs\.k8s\.io)/' || true); \
	if [ -n "$$bad" ]; then echo "pkg/dissect, pkg/kfl, pkg/export, pkg/capfilter, pkg/streamsel must not import Kubernetes packages:"; echo "$$bad"; exit 1; fi
	@bad=$$($(GO) list -f '{{.ImportPath}}: {{join .Imports " "}}' ./pkg/... | grep -E 'spf13/(cobra|pflag)' || true); \
	if [ -n "$$bad" ]; then echo "pkg/... must not import cobra or pflag:"; echo "$$bad"; exit 1; fi

tidy-check:
	@cp go.mod /tmp/.shark-go.mod.bak; cp go.sum /tmp/.shark-go.sum.bak; \
	$(GO) mod tidy; \
	if ! git diff --quiet -- go.mod go.sum; then echo "go.mod/go.sum are not tidy:"; git --no-pager diff -- go.mod go.sum; \
	  cp /tmp/.shark-go.mod.bak go.mod; cp /tmp/.shark-go.sum.bak go.sum; exit 1; fi

# eBPF objects and bindings (bpf/), built by bpf2go (a Go tool pinned in go.mod) with clang.
generate:
	$(GO) generate ./bpf/...

# Rebuild bpf/'s generated files and fail if they differ from the committed ones.
verify-generate:
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; cp -a bpf "$$tmp/before"; \
	$(GO) generate ./bpf/... || exit 1; \
	if ! diff -r -q "$$tmp/before" bpf; then \
	  echo "bpf/: the committed generated files differ from a fresh 'make generate' (clang $$(clang -dumpversion)); commit the regenerated files"; exit 1; fi

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin dist

# The local single-node cluster: cluster-up, cluster-down, cluster-load, ...
include hack/cluster/cluster.mk

# Release archives, krew manifest, multi-arch sniffer images, docs/kfl.md.
include hack/dist/dist.mk

# Benchmarks side by side with tcpdump and tshark: prints a table, writes docs/benchmarks.md.
include hack/bench/bench.mk
