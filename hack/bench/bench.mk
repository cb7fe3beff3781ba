# bench.mk: `make bench` — kubectl-shark side by side with tshark and tcpdump
# (hack/bench/run.sh; results in docs/benchmarks.md). Include it from the root Makefile:
#     include hack/bench/bench.mk
#
#   make bench                 ~7 min on 2 cores: 100 MB HTTP + DNS + Redis inputs, live capture
#                              on a veth pair, sniffer memory, and the cluster row if a cluster is up
#   make bench BENCH_LARGE=1   adds the ~1 GB HTTP input to rows 1-3 (+~10 min: tshark needs
#                              75-130 s and 1.8 GiB per pass on it)
#
# Other knobs (environment or make variables): BENCH_RUNS, BENCH_LARGE_RUNS, BENCH_SIZE,
# BENCH_LIVE_SECONDS, BENCH_LIVE_RUNS, BENCH_HTTP_RATE, BENCH_MEM_SECONDS, BENCH_CLUSTER_RUNS,
# BENCH_SNIFFER_IMAGE, BENCH_ROWS, BENCH_DOC, BENCH_KEEP (see hack/bench/run.sh). Needs root.
# Nothing here is a pass/fail timing test.

BENCH_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
GO ?= go

.PHONY: bench

bench:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/kubectl-shark ./cmd/kubectl-shark
	$(BENCH_DIR)/run.sh
