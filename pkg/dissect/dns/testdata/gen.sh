#!/usr/bin/env bash
# gen.sh records the real DNS capture replayed by the dns package's tests and writes
# tshark's view of it as the golden file the replay test compares against.
#
#   sudo pkg/dissect/dns/testdata/gen.sh        # needs root (tcpdump, port 53)
#
# It starts dnsmasq on the loopback address 127.0.0.2:53 only, queries it with dig
# over UDP and TCP (several queries per dig run, one TCP connection kept open for
# several queries), and records the traffic with tcpdump on lo. Everything it starts
# is stopped by PID. Debian packages: dnsmasq-base dnsutils tcpdump tshark.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
addr=127.0.0.2
work=$(mktemp -d)
pids=()
cleanup() {
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

for tool in dnsmasq dig tcpdump tshark; do
	command -v "$tool" >/dev/null || { echo "gen.sh: $tool not found (apt-get install dnsmasq-base dnsutils tcpdump tshark)" >&2; exit 1; }
done

# wait_for CMD...: retry CMD until it succeeds, for at most 10 seconds.
wait_for() {
	local i
	for i in $(seq 100); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "gen.sh: timed out waiting for: $*" >&2
	return 1
}

dnsmasq --no-daemon --conf-file=/dev/null --pid-file= --user=root \
	--no-resolv --no-hosts --no-dhcp-interface=lo \
	--listen-address="$addr" --bind-interfaces --port=53 \
	--address=/example.test/198.18.0.10 \
	--local=/svc.test/ \
	--host-record=host.svc.test,198.18.0.11,2001:db8::11 \
	--host-record=multi.svc.test,198.18.0.12 \
	--host-record=multi.svc.test,198.18.0.13 \
	--cname=alias.svc.test,host.svc.test \
	--mx-host=svc.test,mail.svc.test,10 \
	--host-record=mail.svc.test,198.18.0.25 \
	--txt-record=svc.test,"v=spf1 -all" \
	--txt-record=info.svc.test,"kubectl-shark test zone","second string" \
	--srv-host=_redis._tcp.svc.test,host.svc.test,6379,0,5 \
	>"$work/dnsmasq.log" 2>&1 &
pids+=($!)
wait_for dig +time=1 +tries=1 @"$addr" host.svc.test A

tcpdump -i lo -U --immediate-mode -s 0 -w "$here/dns.pcap" "host $addr" 2>"$work/tcpdump.log" &
tcpdump_pid=$!
pids+=("$tcpdump_pid")
wait_for grep -q "listening on" "$work/tcpdump.log"

d() { dig +time=2 +tries=1 @"$addr" "$@" >>"$work/dig.log"; }

# UDP: several queries per dig invocation (one socket per query).
d host.svc.test A host.svc.test AAAA svc.test MX svc.test TXT info.svc.test TXT
d _redis._tcp.svc.test SRV alias.svc.test CNAME alias.svc.test A multi.svc.test A
d missing.svc.test A www.example.test A -x 198.18.0.11
# A query without EDNS and with upper-case letters.
d +noedns HoSt.SvC.TeSt A
# TCP: one connection kept open for several queries, then single-query connections.
d +tcp +keepopen host.svc.test A svc.test MX missing.svc.test AAAA _redis._tcp.svc.test SRV
d +tcp info.svc.test TXT
d +tcp -x 198.18.0.25

# Stop the capture once the last packets are on disk (-U flushes every packet).
kill -INT "$tcpdump_pid"
wait "$tcpdump_pid" || true

tshark -r "$here/dns.pcap" -Y dns -T fields -E header=y -E separator='|' -E occurrence=a -E aggregator=';' \
	-e frame.number -e frame.time_epoch -e ip.src -e udp.srcport -e tcp.srcport -e dns.id -e dns.flags.response \
	-e dns.qry.name -e dns.qry.type -e dns.flags.rcode -e dns.count.answers -e dns.resp.type \
	-e dns.a -e dns.aaaa -e dns.cname -e dns.mx.mail_exchange -e dns.txt -e dns.srv.target \
	-e dns.ptr.domain_name -e dns.ns -e dns.soa.mname \
	>"$here/dns.tshark.txt"
echo "gen.sh: wrote $here/dns.pcap ($(stat -c %s "$here/dns.pcap") bytes) and dns.tshark.txt" >&2
