#!/bin/sh
# Copies libbpf's BPF-side headers from Debian's libbpf-dev into this directory.
# They are committed so that `make verify-generate` does not depend on the
# libbpf-dev version installed; rerun this when moving to a newer libbpf.
set -eu
cd "$(dirname "$0")"
for f in bpf_helpers.h bpf_helper_defs.h bpf_tracing.h bpf_endian.h bpf_core_read.h; do
	cp /usr/include/bpf/$f .
done
dpkg-query -W -f='libbpf-dev ${Version}\n' libbpf-dev > LIBBPF_VERSION
