#!/usr/bin/env bash
# gen.sh records tls.pcapng, the real TLS capture replayed by the tls package's tests, and
# writes tshark's reading of it (tls.tshark.tsv), the oracle of TestReplayTshark.
#
#   sudo pkg/dissect/tls/testdata/gen.sh     # needs root (network namespaces, tcpdump)
#   go test ./pkg/dissect/tls/ -run Replay -update   # then rewrites tls.golden.json
#
# It creates two network namespaces joined by a veth pair (198.19.43.1 server, .2
# client, from the 198.18.0.0/15 benchmarking range), runs nginx (port 443, RSA
# certificate, HTTP/2) and openssl s_server (ports 8443-8447, ECDSA or RSA
# certificates, various protocol settings) in the server namespace, drives them with
# curl and openssl s_client from the client namespace, and records the server's
# interface with tcpdump (converted to pcapng with editcap). Handshakes recorded:
# TLS 1.3 and 1.2 with SNI and ALPN, ChaCha20, a HelloRetryRequest, TLS 1.0, a
# server that refuses the client's versions (a plaintext alert), a ClientHello
# without SNI, a ClientHello larger than one segment (a long ALPN list), DHE.
# Everything it starts is stopped by PID; the namespaces are deleted.
# Debian packages: iproute2 nginx-light openssl curl tcpdump tshark (editcap).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
for tool in ip nginx openssl curl tcpdump tshark editcap; do
	command -v "$tool" >/dev/null || { echo "gen.sh: $tool not found (apt-get install -y iproute2 nginx-light openssl curl tcpdump tshark)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "gen.sh: needs root (network namespaces, tcpdump)" >&2; exit 1; }

id=$$
ns_s=shk-tls-s-$id ns_c=shk-tls-c-$id
srv=198.19.43.1 cli=198.19.43.2
work=$(mktemp -d)
pids=()
cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	done
	ip netns del "$ns_s" 2>/dev/null || true
	ip netns del "$ns_c" 2>/dev/null || true
	if [ -n "${KEEP_WORK:-}" ]; then echo "gen.sh: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

S() { ip netns exec "$ns_s" "$@"; }
C() { ip netns exec "$ns_c" "$@"; }

ip netns add "$ns_s"
ip netns add "$ns_c"
ip link add "tls-s-$id" type veth peer name "tls-c-$id"
ip link set "tls-s-$id" netns "$ns_s"
ip link set "tls-c-$id" netns "$ns_c"
S ip link set "tls-s-$id" name eth0
C ip link set "tls-c-$id" name eth0
S ip addr add "$srv/24" dev eth0
C ip addr add "$cli/24" dev eth0
for ns in "$ns_s" "$ns_c"; do
	ip -n "$ns" link set lo up
	# No segmentation offload: the capture holds real MSS-sized segments, so a large
	# hello spans several packets.
	ip -n "$ns" link set eth0 gso_max_segs 1 up
done

# wait_tcp PORT: wait (at most 10 s) until the server accepts connections on PORT.
wait_tcp() {
	local i
	for i in $(seq 200); do
		C bash -c "exec 3<>/dev/tcp/$srv/$1" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "gen.sh: nothing listens on $srv:$1" >&2
	return 1
}

# Certificates: RSA for nginx and the DHE server, ECDSA P-256 for the others.
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=shark.test \
	-addext 'subjectAltName=DNS:shark.test,DNS:*.shark.test' \
	-keyout "$work/rsa.key" -out "$work/rsa.crt" 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj /CN=shark.test \
	-addext 'subjectAltName=DNS:shark.test,DNS:*.shark.test' \
	-keyout "$work/ec.key" -out "$work/ec.crt" 2>/dev/null

mkdir -p "$work/www" "$work/tmp"
echo "hello from the shark tank" >"$work/www/index.html"
cat >"$work/nginx.conf" <<NGINX
daemon off;
master_process off;
worker_processes 1;
pid $work/nginx.pid;
error_log stderr warn;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $work/tmp/body;
	proxy_temp_path $work/tmp/proxy;
	fastcgi_temp_path $work/tmp/fastcgi;
	uwsgi_temp_path $work/tmp/uwsgi;
	scgi_temp_path $work/tmp/scgi;
	default_type text/html;
	server {
		listen $srv:443 ssl http2;
		ssl_certificate $work/rsa.crt;
		ssl_certificate_key $work/rsa.key;
		ssl_protocols TLSv1.2 TLSv1.3;
		root $work/www;
	}
}
NGINX
# Background processes are started with `ip netns exec` directly (it execs the
# command), so $! is the server's own PID.
ip netns exec "$ns_s" nginx -c "$work/nginx.conf" -e stderr >"$work/nginx.log" 2>&1 &
pids+=($!)

# s_server PORT ARGS...: an openssl s_server answering any number of connections.
s_server() {
	local port=$1
	shift
	ip netns exec "$ns_s" openssl s_server -quiet -accept "$srv:$port" "$@" </dev/null >"$work/s_server-$port.log" 2>&1 &
	pids+=($!)
}
s_server 8443 -cert "$work/ec.crt" -key "$work/ec.key" -alpn bar,h2
s_server 8444 -cert "$work/ec.crt" -key "$work/ec.key" -groups P-256
s_server 8445 -cert "$work/ec.crt" -key "$work/ec.key" -tls1 -cipher 'ALL:@SECLEVEL=0'
s_server 8446 -cert "$work/ec.crt" -key "$work/ec.key" -tls1_2
# Records of at most 512 bytes: the ServerHello and the certificate span records.
s_server 8447 -cert "$work/rsa.crt" -key "$work/rsa.key" -tls1_2 -max_send_frag 512
for port in 443 8443 8444 8445 8446 8447; do wait_tcp "$port"; done

pcap=$work/tls.pcap
ip netns exec "$ns_s" tcpdump -i eth0 -n -U --immediate-mode --time-stamp-precision=nano -s 0 -w "$pcap" tcp 2>"$work/tcpdump.log" &
tcpdump_pid=$!
pids+=("$tcpdump_pid")
for _ in $(seq 200); do
	grep -q "listening on" "$work/tcpdump.log" && break
	sleep 0.05
done
grep -q "listening on" "$work/tcpdump.log" || { cat "$work/tcpdump.log" >&2; exit 1; }

conns=0
curl_() { C curl -sS -k -o /dev/null "$@"; conns=$((conns + 1)); }
# s_client ARGS...: one handshake, then close (stdin is empty).
s_client() { C openssl s_client -connect "$@" </dev/null >>"$work/s_client.log" 2>&1 || true; conns=$((conns + 1)); }

# 1. nginx: TLS 1.3 with HTTP/2 (ALPN h2), TLS 1.2 with HTTP/1.1, TLS 1.2 ChaCha20.
curl_ --resolve "shark.test:443:$srv" https://shark.test/
curl_ --resolve "api.shark.test:443:$srv" --http1.1 --tlsv1.2 --tls-max 1.2 https://api.shark.test/
curl_ --resolve "chacha.shark.test:443:$srv" --http1.1 --tls-max 1.2 --ciphers ECDHE-RSA-CHACHA20-POLY1305 https://chacha.shark.test/
# 2. s_server with ALPN: TLS 1.3 ChaCha20 (the server's choice is encrypted), and TLS 1.2
#    (the ServerHello says bar).
s_client "$srv:8443" -servername alpn.shark.test -alpn foo,bar -ciphersuites TLS_CHACHA20_POLY1305_SHA256
s_client "$srv:8443" -servername alpn12.shark.test -alpn foo,bar -tls1_2
# 3. A HelloRetryRequest: the client's key share is X25519, the server wants P-256.
s_client "$srv:8444" -servername hrr.shark.test -groups X25519:P-256
# 4. TLS 1.0.
s_client "$srv:8445" -servername old.shark.test -tls1 -cipher 'ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0'
# 5. A TLS 1.3-only client against a TLS 1.2-only server: a protocol_version alert.
s_client "$srv:8446" -servername refused.shark.test -tls1_3
# 6. No SNI, TLS 1.2 ECDHE-ECDSA with AES-256-GCM.
s_client "$srv:8446" -noservername -cipher ECDHE-ECDSA-AES256-GCM-SHA384
# 7. A ClientHello larger than a segment (200 ALPN protocols), sent in records of at
#    most 512 bytes: the message spans records and segments.
alpn=$(seq -f 'proto-%03g' 1 200 | paste -sd, -)
s_client "$srv:8443" -servername big.shark.test -alpn "$alpn,h2" -max_send_frag 512
# 8. DHE with RSA, TLS 1.2 (the server's records are at most 512 bytes).
s_client "$srv:8447" -servername dhe.shark.test -cipher DHE-RSA-AES128-GCM-SHA256

# Completion: every connection ended (two FINs, or a reset) in the file.
ended() {
	tshark -r "$pcap" -T fields -e tcp.stream -e tcp.flags.fin -e tcp.flags.reset 2>/dev/null |
		awk '$3 == "1" || $3 == "True" { done[$1] = 1 }
		     $2 == "1" || $2 == "True" { if (++fin[$1] >= 2) done[$1] = 1 }
		     END { n = 0; for (s in done) n++; print n }'
}
for _ in $(seq 200); do
	[ "$(ended)" -ge "$conns" ] && break
	sleep 0.05
done
[ "$(ended)" -ge "$conns" ] || { echo "gen.sh: $(ended) of $conns connections ended in the capture" >&2; exit 1; }
kill -TERM "$tcpdump_pid"
wait "$tcpdump_pid" || true
grep -q '^0 packets dropped by kernel' "$work/tcpdump.log" || { cat "$work/tcpdump.log" >&2; echo "gen.sh: tcpdump dropped packets" >&2; exit 1; }

editcap -F pcapng "$pcap" "$here/tls.pcapng"

# The oracle: tshark's hellos and plaintext alerts, one line per frame (several values
# of a field joined with ','). 8443-8447 are not registered TLS ports.
{
	printf '# tshark %s: tshark -r tls.pcapng -d tcp.port==8443-8447,tls -Y "tls.handshake.type==1 || tls.handshake.type==2 || tls.alert_message" -T fields ...\n' \
		"$(tshark --version | head -1 | awk '{print $3}')"
	tshark -r "$here/tls.pcapng" -d tcp.port==8443-8447,tls \
		-Y 'tls.handshake.type==1 || tls.handshake.type==2 || tls.alert_message' -T fields \
		-E header=y -E separator=/t -E occurrence=a -E aggregator=, \
		-e frame.number -e tcp.stream -e tls.handshake.type -e tls.handshake.version \
		-e tls.handshake.extensions_server_name -e tls.handshake.extensions.supported_version \
		-e tls.handshake.extensions_alpn_str -e tls.handshake.cipher_suites_length \
		-e tls.handshake.ciphersuite -e tls.alert_message.desc
} >"$here/tls.tshark.tsv"

# Wireshark's names of every cipher suite it knows (value, name), the oracle of
# TestCipherSuiteNames.
{
	printf '# tshark %s: tshark -G values, field tls.handshake.ciphersuite\n' "$(tshark --version | head -1 | awk '{print $3}')"
	tshark -G values | awk -F'\t' '$1 == "V" && $2 == "tls.handshake.ciphersuite" { printf "0x%04x\t%s\n", $3, $4 }'
} >"$here/ciphersuites.tshark.tsv"

echo "gen.sh: $(stat -c %s "$here/tls.pcapng") bytes, $conns connections, $(($(wc -l <"$here/tls.tshark.tsv") - 2)) frames with hellos or alerts" >&2
