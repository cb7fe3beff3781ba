#!/usr/bin/env bash
# gen.sh regenerates nginx.pcap (a real HTTP/1.x capture on the loopback interface) and
# nginx.tshark.tsv (tshark's reading of it, the oracle of TestReplayTshark).
#
# Needs root (tcpdump), nginx (Debian's nginx-light), curl, tcpdump and tshark:
#   apt-get update && apt-get install -y nginx-light curl tcpdump tshark
# Run from anywhere: ./gen.sh (KEEP_WORK=1 keeps the temporary directory). Then
#   go test ./pkg/dissect/http/ -run Replay -update
# rewrites the golden JSON; review its diff.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
port=${PORT:-18080}
base=http://127.0.0.1:$port

for tool in nginx curl tcpdump tshark; do
	command -v "$tool" >/dev/null || { echo "gen.sh: $tool not found (apt-get install -y nginx-light curl tcpdump tshark)" >&2; exit 1; }
done

work=$(mktemp -d)
nginx_pid= tcpdump_pid=
cleanup() {
	[ -n "$tcpdump_pid" ] && kill "$tcpdump_pid" 2>/dev/null && wait "$tcpdump_pid" 2>/dev/null || true
	[ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null || true
	if [ -n "${KEEP_WORK:-}" ]; then echo "gen.sh: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

# Content: a small page, a 25 KiB text file (served chunked through sub_filter), and
# a WebDAV directory.
mkdir -p "$work/www/dav" "$work/tmp" "$work/logs"
cat >"$work/www/index.html" <<'EOF'
<!doctype html>
<html><head><title>kubectl-shark</title></head>
<body><p>Hello from the shark tank.</p></body></html>
EOF
for i in $(seq 1 400); do
	printf 'line %03d: the shark swims through packets, counting every byte.\n' "$i"
done >"$work/www/big.txt"
head -c 3000 "$work/www/big.txt" >"$work/upload.txt"

cat >"$work/nginx.conf" <<EOF
master_process off;
daemon off;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/logs/error.log warn;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $work/tmp/body;
	proxy_temp_path $work/tmp/proxy;
	fastcgi_temp_path $work/tmp/fastcgi;
	uwsgi_temp_path $work/tmp/uwsgi;
	scgi_temp_path $work/tmp/scgi;
	types { text/html html; text/plain txt; }
	default_type application/octet-stream;
	server_tokens off;
	gzip off;
	keepalive_requests 100;
	server {
		listen 127.0.0.1:$port;
		root $work/www;
		location = /error { return 500 "boom\n"; }
		location = /old { return 301 /index.html; }
		location = /post { return 201 "created\n"; }
		location = /cookie {
			add_header Set-Cookie "id=42; Path=/; HttpOnly";
			add_header Set-Cookie "theme=dark; Max-Age=60";
			return 200 "cookies\n";
		}
		location = /search { return 200 "searching\n"; }
		# sub_filter drops Content-Length: HTTP/1.1 gets chunked, HTTP/1.0 a body
		# delimited by the end of the connection.
		location /chunked/ {
			alias $work/www/;
			chunked_transfer_encoding on;
			sub_filter 'shark' 'SHARK';
			sub_filter_once off;
			sub_filter_types text/plain;
			output_buffers 4 4k;
		}
		location /dav/ {
			dav_methods PUT DELETE MKCOL COPY MOVE;
			create_full_put_path on;
			client_body_buffer_size 64k;
		}
	}
}
EOF

nginx -e "$work/logs/error.log" -p "$work" -c "$work/nginx.conf" &
nginx_pid=$!
# Readiness: poll until nginx answers (before the capture starts, so not recorded).
for _ in $(seq 1 200); do
	curl -fsS -o /dev/null "$base/index.html" 2>/dev/null && break
	kill -0 "$nginx_pid" 2>/dev/null || { cat "$work/logs/error.log" >&2; exit 1; }
	sleep 0.05
done
curl -fsS -o /dev/null "$base/index.html"

pcap=$work/nginx.pcap
# Immediate mode uses a ring of snaplen-sized slots: a snaplen just above the loopback
# MTU (65536) and a 128 MiB buffer keep bursts from being dropped (checked below).
tcpdump -i lo -Z root -s 65600 -B 131072 -U --immediate-mode -w "$pcap" "tcp port $port" 2>"$work/tcpdump.log" &
tcpdump_pid=$!
# Readiness: the file header (24 bytes) is written once the capture is active.
for _ in $(seq 1 200); do
	[ -s "$pcap" ] && [ "$(stat -c %s "$pcap")" -ge 24 ] && break
	kill -0 "$tcpdump_pid" 2>/dev/null || { cat "$work/tcpdump.log" >&2; exit 1; }
	sleep 0.05
done
[ "$(stat -c %s "$pcap")" -ge 24 ] || { echo "gen.sh: tcpdump did not start" >&2; exit 1; }

conns=0
c() { curl -sS -o /dev/null "$@"; conns=$((conns + 1)); }

# 1. Keep-alive: several URLs on one connection (200, 404, 500, 301, query, cookies).
c -b 'session=abc123; theme=dark' -A 'kubectl-shark-gen/1' \
	-o /dev/null -o /dev/null -o /dev/null -o /dev/null -o /dev/null \
	"$base/index.html" "$base/missing" "$base/error" "$base/old" \
	"$base/search?q=hello%20world&lang=en&q=second" "$base/cookie"
# 2. HEAD: a Content-Length but no body.
c -I "$base/index.html"
# 3. Chunked response (HTTP/1.1, several chunks).
c "$base/chunked/big.txt"
# 4. HTTP/1.0: one connection per request; the sub_filter response has no length and
#    ends with the connection.
c -0 "$base/chunked/big.txt"
c -0 "$base/index.html"
# 5. POST with a body.
c -d 'name=shark&fins=2' "$base/post"
# 6. WebDAV: MKCOL, PUT with Expect: 100-continue, PUT with a chunked body, COPY,
#    PROPFIND (405), DELETE.
c -X MKCOL "$base/dav/dir/"
c -H 'Expect: 100-continue' -T "$work/upload.txt" "$base/dav/dir/upload.txt"
c -H 'Transfer-Encoding: chunked' -T - "$base/dav/dir/stream.txt" <"$work/upload.txt"
c -X COPY -H "Destination: $base/dav/dir/copy.txt" "$base/dav/dir/upload.txt"
c -X PROPFIND -H 'Depth: 1' "$base/dav/dir/"
c -X DELETE "$base/dav/dir/"
# 7. Pipelining: three requests in one write (before any response), the last one
#    closes the connection. (Only GETs: tshark 4.0 misreads a pipelined HEAD's
#    response as having a body; TestPipelinedHEAD covers that case.)
req=$'GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /missing HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /search?pipelined=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf '%s' "$req" >&3
cat <&3 >/dev/null
exec 3<&-
conns=$((conns + 1))

# Completion: wait until every connection has ended (two FINs, or a reset) in the file.
ended() {
	tshark -r "$pcap" -T fields -e tcp.stream -e tcp.flags.fin -e tcp.flags.reset 2>/dev/null |
		awk '$3 == "1" || $3 == "True" { done[$1] = 1 }
		     $2 == "1" || $2 == "True" { if (++fin[$1] >= 2) done[$1] = 1 }
		     END { n = 0; for (s in done) n++; print n }'
}
for _ in $(seq 1 200); do
	[ "$(ended)" -ge "$conns" ] && break
	sleep 0.05
done
[ "$(ended)" -ge "$conns" ] || { echo "gen.sh: $(ended) of $conns connections ended in the capture" >&2; exit 1; }
kill -INT "$tcpdump_pid"
wait "$tcpdump_pid" || true
tcpdump_pid=
grep -q '^0 packets dropped by kernel' "$work/tcpdump.log" || { cat "$work/tcpdump.log" >&2; echo "gen.sh: tcpdump dropped packets" >&2; exit 1; }

cp "$pcap" "$here/nginx.pcap"

# The oracle: tshark's HTTP messages, one line per frame (fields of several messages in
# one frame are joined with '|'). Port $port is not a registered
# HTTP port, so it is decoded as HTTP explicitly (our dissector does not use ports).
{
	printf '# tshark %s: tshark -2 -r nginx.pcap -d tcp.port==%s,http -Y http -T fields ...\n' \
		"$(tshark --version | head -1 | awk '{print $3}')" "$port"
	tshark -2 -r "$here/nginx.pcap" -d "tcp.port==$port,http" -Y http -T fields \
		-E header=y -E separator=/t -E occurrence=a -E aggregator='|' \
		-e frame.number -e tcp.stream -e http.request.method -e http.request.uri \
		-e http.request.version -e http.response.version -e http.response.code \
		-e http.response.phrase -e http.request_in -e http.content_length_header
} >"$here/nginx.tshark.tsv"

echo "gen.sh: $(stat -c %s "$here/nginx.pcap") bytes, $conns connections, $(($(wc -l <"$here/nginx.tshark.tsv") - 2)) frames with HTTP" >&2
