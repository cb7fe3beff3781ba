#!/usr/bin/env bash
# gen.sh records the real Redis capture replayed by the redis package's tests and
# writes tshark's view of it as the golden file the replay test compares against.
#
#   sudo pkg/dissect/redis/testdata/gen.sh      # needs root (tcpdump)
#
# It starts redis-server on 127.0.0.1 only (port 6379, or REDIS_PORT), drives it with
# redis-cli (one connection with many commands, errors and a transaction; a pipelined
# batch with --pipe; a RESP3 session; RESP2 and RESP3 pub/sub; a 20 KB value) and a
# raw socket for inline commands, and records the traffic with tcpdump on lo. Everything
# it starts is stopped by PID. Debian packages: redis-server redis-tools tcpdump tshark.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
port=${REDIS_PORT:-6379}
work=$(mktemp -d)
pids=()
cleanup() {
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

for tool in redis-server redis-cli tcpdump tshark ss; do
	command -v "$tool" >/dev/null || { echo "gen.sh: $tool not found (apt-get install redis-server redis-tools tcpdump tshark)" >&2; exit 1; }
done
if ss -Hltn "sport = :$port" | grep -q .; then
	echo "gen.sh: port $port is in use; set REDIS_PORT to a free port" >&2
	exit 1
fi

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

cli() { redis-cli -h 127.0.0.1 -p "$port" "$@"; }

redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$work" \
	--protected-mode yes --daemonize no >"$work/redis.log" 2>&1 &
pids+=($!)
wait_for cli PING

tcpdump -i lo -U --immediate-mode -s 0 -w "$here/redis.pcap" "tcp port $port" 2>"$work/tcpdump.log" &
tcpdump_pid=$!
pids+=("$tcpdump_pid")
wait_for grep -q "listening on" "$work/tcpdump.log"

# resp_cmd ARGS...: send one command as a RESP array on fd 3, in one write.
resp_cmd() {
	local a s p
	printf -v s '*%d\r\n' $#
	for a in "$@"; do
		printf -v p '$%d\r\n%s\r\n' "${#a}" "$a"
		s+=$p
	done
	printf '%s' "$s" >&3
}
# read_reply: read one whole reply from fd 3 (bulk payloads are single lines here).
read_reply() {
	local line n i
	IFS= read -r -t 5 line <&3 || return 1
	line=${line%$'\r'}
	n=${line:1}
	case ${line:0:1} in
	'$' | '!' | '=') [ "$n" -lt 0 ] || IFS= read -r -t 5 line <&3 ;;
	'*' | '~' | '>') for ((i = 0; i < n; i++)); do read_reply || return 1; done ;;
	'%') for ((i = 0; i < 2 * n; i++)); do read_reply || return 1; done ;;
	esac
}
export LC_ALL=C # ${#a} counts bytes

# 1. One connection, one command at a time (redis-cli would first send COMMAND DOCS
#    and a 300 KB reply in its batch mode, so a small bash client sends these):
#    strings, hashes, lists, counters, a missing key, errors and a transaction.
exec 3<>"/dev/tcp/127.0.0.1/$port"
while read -r -a cmd; do
	resp_cmd "${cmd[@]}"
	read_reply
done <<'CMDS'
SET user:1 alice
GET user:1
GET missing:key
HSET user:2 name bob age 42
HGET user:2 name
HGETALL user:2
LPUSH list:1 a b c
LRANGE list:1 0 -1
INCR counter:1
EXPIRE counter:1 100
MGET user:1 missing:key
INCR user:1
HGET user:1 field
MULTI
INCR counter:1
GET user:1
EXEC
DEL list:1 missing:key
CMDS
exec 3>&-

# redis-cli, one command per connection.
cli SET cli:key "a value" >/dev/null
cli GET cli:key >/dev/null
cli GET missing:key >/dev/null
cli DEL cli:key >/dev/null

# 2. A pipelined batch: every command is sent before the first reply is read.
{
	for i in 1 2 3 4 5 6 7 8; do
		key=pipe:$i
		printf '*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n' "${#key}" "$key" "${#i}" "$i"
	done
	printf '*2\r\n$4\r\nINCR\r\n$6\r\npipe:1\r\n'
	printf '*3\r\n$4\r\nMGET\r\n$6\r\npipe:1\r\n$6\r\npipe:9\r\n'
	printf '*2\r\n$5\r\nLPUSH\r\n$6\r\npipe:2\r\n'
} >"$work/pipe.resp"
# The batch ends with an error (LPUSH without a value), so --pipe exits 1.
cli --pipe <"$work/pipe.resp" >"$work/pipe.out" 2>&1 || true
grep -q "errors: 1, replies: 11" "$work/pipe.out" || { cat "$work/pipe.out" >&2; exit 1; }

# 3. RESP3: redis-cli -3 starts each connection with HELLO 3 (a map reply); then
#    doubles, sets, maps and nulls.
cli ZADD scores 1.5 alice 2 bob >/dev/null
cli SADD set:1 x y >/dev/null
cli -3 ZSCORE scores alice >/dev/null
cli -3 SMEMBERS set:1 >/dev/null
cli -3 HGETALL user:2 >/dev/null
cli -3 GET missing:key >/dev/null

# 4. Inline commands over a raw socket, as telnet users send them.
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'PING\r\nSET inline:key "hello world"\r\nGET inline:key\r\n' >&3
for i in 1 2 3; do read -r -t 5 line <&3; done
read -r -t 5 line <&3 # the bulk string's payload line
exec 3>&-

# 5. Pub/sub in RESP2 and RESP3: subscribers, a publisher, pushed messages.
cli SUBSCRIBE news sports >"$work/sub2.out" &
sub2=$!
pids+=("$sub2")
cli -3 SUBSCRIBE news >"$work/sub3.out" &
sub3=$!
pids+=("$sub3")
wait_for bash -c "[ \"\$(redis-cli -h 127.0.0.1 -p $port PUBSUB NUMSUB news | tail -1)\" = 2 ]"
cli PUBLISH news hello
cli PUBLISH sports goal
wait_for grep -q goal "$work/sub2.out"
wait_for grep -q hello "$work/sub3.out"
kill "$sub2" "$sub3"
wait "$sub2" "$sub3" 2>/dev/null || true

# 6. A 20 KB value, written and read back.
head -c 20000 /dev/zero | tr '\0' 'v' >"$work/big"
cli -x SET big:key <"$work/big" >/dev/null
cli GET big:key >/dev/null

kill -INT "$tcpdump_pid"
wait "$tcpdump_pid" || true

tshark -r "$here/redis.pcap" -d "tcp.port==$port,resp" -Y resp -T fields -E header=y -E separator='|' \
	-E occurrence=a -E aggregator=';' \
	-e frame.number -e tcp.stream -e tcp.srcport -e tcp.dstport -e resp.array.length \
	-e resp.bulk_string.length -e resp.bulk_string.value -e resp.string -e resp.error -e resp.integer \
	>"$here/redis.tshark.txt"
echo "gen.sh: wrote $here/redis.pcap ($(stat -c %s "$here/redis.pcap") bytes) and redis.tshark.txt" >&2
