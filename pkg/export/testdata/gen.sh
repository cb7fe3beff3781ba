#!/usr/bin/env bash
# Regenerates the capture files in this directory with real tools. Needs root (network
# namespaces), tcpdump, tshark/editcap/mergecap/text2pcap/capinfos (Debian:
# tcpdump tshark), python3 and curl. All traffic runs in two private network namespaces
# joined by a veth pair (with a VLAN on top), so nothing else on the machine shows up.
#
#   lo.pcap            tcpdump -i lo (Ethernet, µs): HTTP on port 80 over IPv4 and IPv6,
#                      a DNS query to a closed port and its ICMP port unreachable
#   eth.pcap           tcpdump -i veth, nanosecond: ARP, NDP, HTTP, 802.1Q VLAN 100 traffic
#   any-sll2.pcap      tcpdump -i any -y LINUX_SLL2
#   any-sll.pcap       tcpdump -i any -y LINUX_SLL (the older cooked header)
#   raw.pcap           text2pcap -l 101: raw IPv4 and IPv6 DNS queries
#   rawip.pcap         editcap -C 14 -T rawip of lo.pcap (real packets, raw IP)
#   lo.pcapng          editcap -F pcapng lo.pcap
#   lo-ns.pcap         editcap -F nsecpcap lo.pcap
#   lo-mod.pcap        editcap -F modpcap lo.pcap (Kuznetzov's modified pcap)
#   merged.pcapng      mergecap of eth.pcap, any-sll2.pcap and raw.pcap: three interfaces,
#                      three link types
#   sections.pcapng    lo.pcapng followed by merged.pcapng: two sections
#   dumpcap.pcapng     dumpcap -i lo: with interface statistics blocks
#   lo.pcapng.gz       gzip of lo.pcapng
#
# Packet counts vary a little between runs (TCP timing): after regenerating, update the
# counts in ../reader_test.go (fixtures) and ../merge_test.go to what capinfos prints.
set -euo pipefail
cd "$(dirname "$0")"

[ "$(id -u)" = 0 ] || { echo "gen.sh: needs root for network namespaces" >&2; exit 1; }

tag=ksg$$
nsa=$tag-a nsb=$tag-b
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	ip netns del "$nsa" 2>/dev/null || true
	ip netns del "$nsb" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

A() { ip netns exec "$nsa" "$@"; }
B() { ip netns exec "$nsb" "$@"; }

ip netns add "$nsa"
ip netns add "$nsb"
ip link add "${tag}a" netns "$nsa" type veth peer name "${tag}b" netns "$nsb"
for side in a b; do
	ns=$tag-$side dev=$tag$side n=1
	[ $side = b ] && n=2
	ip -n "$ns" link set lo up
	ip -n "$ns" link set "$dev" address 02:00:00:00:00:0$n up
	ip -n "$ns" addr add 10.99.0.$n/24 dev "$dev"
	ip -n "$ns" -6 addr add fd00:99::$n/64 dev "$dev" nodad
done

# Web content: a small page and a ~3 kB one (several TCP segments at a 1500-byte MTU).
mkdir -p "$work/www"
echo "hello from kubectl-shark" >"$work/www/index.html"
for i in $(seq 60); do echo "line $i of a larger body, padding padding padding"; done >"$work/www/big.txt"

serve() { # serve NS ADDR
	ip netns exec "$1" python3 -m http.server 80 --bind "$2" --directory "$work/www" >/dev/null 2>&1 &
	pids+=($!)
}
serve "$nsa" 127.0.0.1
serve "$nsa" ::1
serve "$nsb" 10.99.0.2
serve "$nsb" fd00:99::2
curlw() { # curlw NS URL
	ip netns exec "$1" curl -sS -o /dev/null "$2"
}
wait_http() { # wait_http NS URL: until the server answers
	for _ in $(seq 200); do
		ip netns exec "$1" curl -s -o /dev/null "$2" && return
		sleep 0.05
	done
	echo "gen.sh: no server at $2" >&2
	exit 1
}
# Warm up (servers listening, neighbours resolved) before any capture starts.
wait_http "$nsa" http://127.0.0.1/ ; wait_http "$nsa" 'http://[::1]/'
wait_http "$nsa" http://10.99.0.2/ ; wait_http "$nsa" 'http://[fd00:99::2]/'
ip -n "$nsa" neigh flush all; ip -n "$nsb" neigh flush all

# send_vlan DEV: the kernel module for VLAN devices may be missing, so 802.1Q frames
# (a DNS query over IPv4 in VLAN 100, one over IPv6 in VLAN 200) are sent through a
# packet socket; tcpdump on DEV records them as transmitted.
send_vlan() {
	A python3 - "$1" <<'PY'
import socket, struct, sys
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
dns = bytes.fromhex("123401000001000000000000076578616d706c6503636f6d0000010001")
udp = lambda sp, dp: struct.pack("!HHHH", sp, dp, 8 + len(dns), 0) + dns
ip4 = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + 8 + len(dns), 1, 0, 64, 17, 0,
                  socket.inet_aton("10.99.100.1"), socket.inet_aton("10.99.100.2"))
ip4 = ip4[:10] + struct.pack("!H", csum(ip4)) + ip4[12:]
src6, dst6 = socket.inet_pton(socket.AF_INET6, "fd00:200::1"), socket.inet_pton(socket.AF_INET6, "fd00:200::2")
u6 = udp(5001, 53)
ph = src6 + dst6 + struct.pack("!IxxxB", len(u6), 17)
u6 = u6[:6] + struct.pack("!H", csum(ph + u6)) + u6[8:]
ip6 = struct.pack("!IHBB", 6 << 28, len(u6), 17, 64) + src6 + dst6
eth = bytes.fromhex("020000000002020000000001")
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
s.send(eth + struct.pack("!HHH", 0x8100, 100, 0x0800) + ip4 + udp(5000, 53))
s.send(eth + struct.pack("!HHH", 0x8100, 200, 0x86dd) + ip6 + u6)
PY
}

start_capture() { # start_capture NAME ARGS... : tcpdump in namespace A, waits until listening
	local name=$1; shift
	ip netns exec "$nsa" tcpdump -U --immediate-mode -n "$@" -w "$work/$name" 2>"$work/$name.log" &
	pids+=($!)
	capture_pid=$!
	for _ in $(seq 100); do grep -q "listening on" "$work/$name.log" && return; sleep 0.05; done
	echo "tcpdump did not start:" >&2; cat "$work/$name.log" >&2; exit 1
}
stop_capture() {
	sleep 0.2 # let the last packets reach the ring
	kill -TERM "$capture_pid"
	wait "$capture_pid" || true
}

# lo.pcap: loopback, Ethernet link type.
start_capture lo.pcap -i lo
curlw "$nsa" http://127.0.0.1/
curlw "$nsa" http://127.0.0.1/big.txt
curlw "$nsa" 'http://[::1]/'
A dig +tries=1 +time=1 @127.0.0.1 example.com >/dev/null 2>&1 || true
stop_capture

# eth.pcap: veth, nanosecond timestamps, with ARP/NDP and a VLAN.
start_capture eth.pcap -i "${tag}a" --time-stamp-precision=nano
curlw "$nsa" http://10.99.0.2/
curlw "$nsa" 'http://[fd00:99::2]/big.txt'
send_vlan "${tag}a"
stop_capture

# any-sll2.pcap and any-sll.pcap: the "any" pseudo-interface.
start_capture any-sll2.pcap -i any -y LINUX_SLL2
curlw "$nsa" http://10.99.0.2/
curlw "$nsa" 'http://[::1]/'
stop_capture
start_capture any-sll.pcap -i any -y LINUX_SLL
curlw "$nsa" http://10.99.0.2/big.txt
curlw "$nsa" http://127.0.0.1/
stop_capture

# dumpcap.pcapng: dumpcap writes interface statistics blocks.
ip netns exec "$nsa" dumpcap -q -i lo -w "$work/dumpcap.pcapng" -a packets:6 >"$work/dumpcap.log" 2>&1 &
dpid=$!
pids+=($dpid)
for _ in $(seq 100); do
	A curl -sS -o /dev/null http://127.0.0.1/ || true
	kill -0 "$dpid" 2>/dev/null || break
	sleep 0.1
done
wait "$dpid"

for f in lo.pcap eth.pcap any-sll2.pcap any-sll.pcap dumpcap.pcapng; do cp "$work/$f" . && chmod 644 "$f"; done

# raw.pcap: raw IP (link type 101) from text2pcap: DNS queries over IPv4 and IPv6.
printf '0000  12 34 01 00 00 01 00 00 00 00 00 00 07 65 78 61\n0010  6d 70 6c 65 03 63 6f 6d 00 00 01 00 01\n' >"$work/dns.txt"
text2pcap -q -F pcap -l 101 -4 10.0.0.1,10.0.0.2 -u 5000,53 "$work/dns.txt" "$work/raw4.pcap"
text2pcap -q -F pcap -l 101 -6 fd00::1,fd00::2 -u 5001,53 -t '%H:%M:%S.' "$work/dns.txt" "$work/raw6.pcap" 2>/dev/null ||
	text2pcap -q -F pcap -l 101 -6 fd00::1,fd00::2 -u 5001,53 "$work/dns.txt" "$work/raw6.pcap"
mergecap -a -F pcap -w raw.pcap "$work/raw4.pcap" "$work/raw6.pcap"

editcap -F pcap -C 14 -T rawip lo.pcap rawip.pcap
editcap -F pcapng lo.pcap lo.pcapng
editcap -F nsecpcap lo.pcap lo-ns.pcap
editcap -F modpcap lo.pcap lo-mod.pcap
mergecap -F pcapng -w merged.pcapng eth.pcap any-sll2.pcap raw.pcap
cat lo.pcapng merged.pcapng >sections.pcapng
gzip -9 -n -c lo.pcapng >lo.pcapng.gz

capinfos -T -c -E -u *.pcap *.pcapng
