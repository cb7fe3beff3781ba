#!/bin/bash
# Installs what the build and the tests need, idempotently: Debian packages (only the
# missing ones, so a warm machine runs no apt at all) and pinned Go tools.
set -euo pipefail

# command -> Debian package
declare -A PKGS=(
  [gcc]=gcc [make]=make [git]=git [curl]=curl [jq]=jq
  [ip]=iproute2 [iptables]=iptables
  [tshark]=tshark [capinfos]=wireshark-common [tcpdump]=tcpdump
  [nginx]=nginx-light [redis-server]=redis-server [redis-cli]=redis-tools
  [dnsmasq]=dnsmasq-base [dig]=dnsutils
  [containerd]=containerd [runc]=runc [ctr]=containerd
  [clang]=clang [llvm-strip]=llvm [bpftool]=bpftool
  [openssl]=openssl [python3]=python3 [capsh]=libcap2-bin [setpriv]=util-linux [tc]=iproute2
)
missing=()
for cmd in "${!PKGS[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin command -v "$cmd" >/dev/null 2>&1 || missing+=("${PKGS[$cmd]}")
done
# Libraries and files that are not commands.
[ -e /usr/include/pcap/pcap.h ] || missing+=(libpcap-dev)
[ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)

if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  echo "deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; answer no, without a prompt.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian's packages start their services on install where an init system runs; the
# tests start their own instances in network namespaces and need none of them.

# Go tools, pinned. GOBIN keeps them out of the module.
GOBIN=${GOBIN:-$(go env GOPATH)/bin}
export GOBIN
tool() { # tool BINARY MODULE@VERSION
  if ! [ -x "$GOBIN/$1" ] || ! grep -qF "$2" "$GOBIN/.$1.version" 2>/dev/null; then
    echo "deps: go install $2" >&2
    go install "$2"
    echo "$2" > "$GOBIN/.$1.version"
  fi
}
tool staticcheck honnef.co/go/tools/cmd/staticcheck@v0.8.2
