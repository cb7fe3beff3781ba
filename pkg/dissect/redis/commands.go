package redis

import (
	"strconv"
	"strings"
)

// keySpec tells where a command's first key is.
type keySpec uint8

const (
	keyNone     keySpec = iota // no key (PING, AUTH, SELECT, CLIENT, CONFIG, INFO, ...)
	keyFirst                   // the first argument
	keySub                     // the second argument, for subcommands in keySubcommands
	keyNumkeys1                // numkeys is the first argument, the first key follows
	keyNumkeys2                // numkeys is the second argument, the first key follows
	keyStreams                 // the argument after the STREAMS token
)

// commands maps the upper-case names of Redis commands (and of the most used module
// commands) to where their first key is. The list also serves Probe, which on ports
// other than 6379 accepts only a known command name.
var commands = map[string]cmdSpec{}

// cmdSpec describes a known command; name is its interned upper-case name.
type cmdSpec struct {
	name string
	key  keySpec
}

// commandLists holds the command names by key position, as listed in the source.
var commandLists = map[keySpec]string{
	keyNone: `PING AUTH SELECT CLIENT CONFIG INFO HELLO ECHO QUIT RESET MULTI EXEC DISCARD
			UNWATCH FLUSHDB FLUSHALL DBSIZE TIME SAVE BGSAVE BGREWRITEAOF LASTSAVE SHUTDOWN
			SLAVEOF REPLICAOF ROLE MONITOR SYNC PSYNC REPLCONF COMMAND SCRIPT FUNCTION SLOWLOG
			LATENCY ACL CLUSTER READONLY READWRITE ASKING SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE
			PUNSUBSCRIBE SSUBSCRIBE SUNSUBSCRIBE PUBLISH SPUBLISH PUBSUB WAIT WAITAOF SWAPDB
			RANDOMKEY KEYS SCAN LOLWUT MODULE MIGRATE FAILOVER
			SENTINEL`,
	keyFirst: `GET SET SETNX SETEX PSETEX GETSET GETDEL GETEX APPEND STRLEN INCR DECR INCRBY
			DECRBY INCRBYFLOAT GETRANGE SETRANGE SUBSTR GETBIT SETBIT BITCOUNT BITPOS BITFIELD
			BITFIELD_RO BITOP LCS MGET MSET MSETNX DEL UNLINK EXISTS EXPIRE PEXPIRE EXPIREAT
			PEXPIREAT EXPIRETIME PEXPIRETIME TTL PTTL PERSIST TYPE RENAME RENAMENX DUMP RESTORE
			TOUCH MOVE COPY SORT SORT_RO WATCH
			HSET HSETNX HGET HMSET HMGET HDEL HLEN HEXISTS HKEYS HVALS HGETALL HINCRBY
			HINCRBYFLOAT HSTRLEN HSCAN HRANDFIELD HEXPIRE HPEXPIRE HEXPIREAT HPEXPIREAT HTTL
			HPTTL HEXPIRETIME HPEXPIRETIME HPERSIST HGETDEL HGETEX HSETEX
			LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN LRANGE LINDEX LSET LREM LTRIM LINSERT LPOS
			LMOVE RPOPLPUSH BLPOP BRPOP BLMOVE BRPOPLPUSH
			SADD SREM SMEMBERS SISMEMBER SMISMEMBER SCARD SPOP SRANDMEMBER SMOVE SINTER SUNION
			SDIFF SINTERSTORE SUNIONSTORE SDIFFSTORE SSCAN
			ZADD ZREM ZRANGE ZRANGEBYSCORE ZREVRANGE ZREVRANGEBYSCORE ZRANGEBYLEX ZREVRANGEBYLEX
			ZRANK ZREVRANK ZSCORE ZMSCORE ZCARD ZCOUNT ZLEXCOUNT ZINCRBY ZPOPMIN ZPOPMAX BZPOPMIN
			BZPOPMAX ZREMRANGEBYRANK ZREMRANGEBYSCORE ZREMRANGEBYLEX ZSCAN ZRANDMEMBER
			ZRANGESTORE ZUNIONSTORE ZINTERSTORE ZDIFFSTORE
			PFADD PFCOUNT PFMERGE PFDEBUG
			GEOADD GEODIST GEOHASH GEOPOS GEORADIUS GEORADIUS_RO GEORADIUSBYMEMBER
			GEORADIUSBYMEMBER_RO GEOSEARCH GEOSEARCHSTORE
			XADD XRANGE XREVRANGE XLEN XDEL XTRIM XACK XCLAIM XAUTOCLAIM XPENDING XSETID
			JSON.GET JSON.SET JSON.DEL JSON.MGET JSON.TYPE JSON.ARRAPPEND JSON.NUMINCRBY
			JSON.STRLEN JSON.OBJKEYS TS.ADD TS.GET TS.RANGE TS.CREATE BF.ADD BF.EXISTS
			CF.ADD CF.EXISTS`,
	keySub:      `OBJECT MEMORY XINFO XGROUP DEBUG`,
	keyNumkeys1: `ZUNION ZINTER ZDIFF SINTERCARD ZINTERCARD LMPOP ZMPOP`,
	keyNumkeys2: `EVAL EVALSHA EVAL_RO EVALSHA_RO FCALL FCALL_RO BLMPOP BZMPOP`,
	keyStreams:  `XREAD XREADGROUP`,
}

func init() {
	for spec, names := range commandLists {
		for _, name := range strings.Fields(names) {
			commands[name] = cmdSpec{name: name, key: spec}
		}
	}
}

// keySubcommands are the subcommands whose first argument is a key, for the
// commands marked keySub.
var keySubcommands = map[string]bool{
	"OBJECT ENCODING": true, "OBJECT FREQ": true, "OBJECT IDLETIME": true, "OBJECT REFCOUNT": true,
	"MEMORY USAGE": true, "DEBUG OBJECT": true,
	"XINFO STREAM": true, "XINFO GROUPS": true, "XINFO CONSUMERS": true,
	"XGROUP CREATE": true, "XGROUP DESTROY": true, "XGROUP CREATECONSUMER": true,
	"XGROUP DELCONSUMER": true, "XGROUP SETID": true,
}

// maxKey is the length a key is cut to (KFL redis_key).
const maxKey = 64

// maxCommand is the length the command line is cut to (KFL redis_command).
const maxCommand = 1024

// command is what the parser keeps of a request.
type command struct {
	typ  string // verb, upper case
	line string // arguments joined by spaces, escaped, cut to maxCommand bytes
	key  string
	sub  string // the lower-case verb for the (un)subscribe family, else ""
	// replies is how many replies the command gets: channel count for SUBSCRIBE and
	// friends, 1 otherwise.
	replies int
}

// buildCommand turns a decoded request into a command. ok is false for a request
// without arguments, which Redis ignores.
func buildCommand(v *value, scratch *[]byte) (cmd command, ok bool) {
	if len(v.args) == 0 {
		return cmd, false
	}
	argBytes := func(i int) []byte { a := v.args[i]; return v.arena[a.off : a.off+a.n] }

	// The verb, upper-cased in scratch; known names are interned.
	buf, _ := appendEscaped((*scratch)[:0], argBytes(0), 64)
	for i, c := range buf {
		if 'a' <= c && c <= 'z' {
			buf[i] = c - ('a' - 'A')
		}
	}
	spec, known := commands[string(buf)]
	verb := spec.name
	if !known {
		verb = string(buf)
	}
	cmd.typ = verb
	cmd.replies = 1

	// The command line: escaped arguments joined by spaces, "..." appended (within
	// maxCommand) when anything was left out.
	buf = buf[:0]
	cut := int64(len(v.args)) < v.nargs
	for i, a := range v.args {
		room := maxCommand - len(buf)
		if i > 0 {
			room--
		}
		if room <= 0 {
			cut = true
			break
		}
		if i > 0 {
			buf = append(buf, ' ')
		}
		var c bool
		buf, c = appendEscaped(buf, argBytes(i), maxCommand-len(buf))
		if c || int64(a.n) < a.full {
			cut = true
		}
		if c {
			break
		}
	}
	if cut {
		if len(buf) > maxCommand-3 {
			buf = buf[:len(cutEscaped(string(buf), maxCommand-3))]
		}
		buf = append(buf, "..."...)
	}
	cmd.line = string(buf)
	*scratch = buf

	upperArg := func(i int) string {
		if i >= len(v.args) {
			return ""
		}
		return strings.ToUpper(string(argBytes(i)))
	}
	keyAt := func(i int) {
		if i < len(v.args) {
			cmd.key = esc(argBytes(i), maxKey)
		}
	}
	switch spec.key {
	case keyFirst:
		keyAt(1)
	case keySub:
		if keySubcommands[verb+" "+upperArg(1)] {
			keyAt(2)
		}
	case keyNumkeys1, keyNumkeys2:
		at := 1
		if spec.key == keyNumkeys2 {
			at = 2
		}
		if at < len(v.args) {
			if n, err := strconv.Atoi(string(argBytes(at))); err == nil && n > 0 {
				keyAt(at + 1)
			}
		}
	case keyStreams:
		for i := 1; i+1 < len(v.args); i++ {
			if upperArg(i) == "STREAMS" {
				keyAt(i + 1)
				break
			}
		}
	}

	switch verb {
	case "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE":
		cmd.sub = strings.ToLower(verb)
		if v.nargs > 2 {
			cmd.replies = int(min(v.nargs-1, 1<<20))
		}
	}
	return cmd, true
}

// appendEscaped appends bytes as printable text: printable ASCII as is, '\\' doubled,
// other bytes as \xHH (\n, \r, \t as such). It appends at most max bytes without
// splitting an escape; cut reports whether anything was left out.
func appendEscaped(dst, b []byte, max int) (out []byte, cut bool) {
	limit := len(dst) + max
	for i, c := range b {
		var e [4]byte
		n := 2
		switch {
		case c == '\\':
			e[0], e[1] = '\\', '\\'
		case c == '\n':
			e[0], e[1] = '\\', 'n'
		case c == '\r':
			e[0], e[1] = '\\', 'r'
		case c == '\t':
			e[0], e[1] = '\\', 't'
		case c < 0x20 || c > 0x7e:
			const hexDigits = "0123456789abcdef"
			e = [4]byte{'\\', 'x', hexDigits[c>>4], hexDigits[c&0xf]}
			n = 4
		default:
			e[0], n = c, 1
		}
		if len(dst)+n > limit {
			return dst, i < len(b)
		}
		dst = append(dst, e[:n]...)
	}
	return dst, false
}

// escape is appendEscaped into a new string.
func escape(b []byte, max int) (s string, cut bool) {
	plain := len(b) <= max
	for _, c := range b {
		if c < 0x20 || c > 0x7e || c == '\\' {
			plain = false
			break
		}
	}
	if plain {
		return string(b), false
	}
	out, cut := appendEscaped(make([]byte, 0, min(max, 4*len(b))), b, max)
	return string(out), cut
}

// esc is escape without the cut flag.
func esc(b []byte, max int) string {
	s, _ := escape(b, max)
	return s
}

// maxReplyText is how many bytes of a string reply the rendering shows.
const maxReplyText = 128

// renderReply is the short rendering of a reply, close to redis-cli's:
// OK, (nil), (integer) 3, "value", (error) ERR ..., (array) 3 elements, (map) 2
// entries, (set) 1 element, (push) 3 elements, (double) 1.5, (true), (big number) 1.
func renderReply(v *value) (s string, isErr bool) {
	text := v.text
	more := v.textFull > int64(len(text))
	if len(text) > maxReplyText {
		text, more = text[:maxReplyText], true
	}
	ell := ""
	if more {
		ell = "..."
	}
	switch {
	case v.null:
		return "(nil)", false
	case v.typ == '+':
		switch string(text) { // the common ones without allocating
		case "OK":
			return "OK", false
		case "QUEUED":
			return "QUEUED", false
		case "PONG":
			return "PONG", false
		}
		return esc(text, 4*maxReplyText) + ell, false
	case v.typ == '-':
		return "(error) " + esc(text, 4*maxReplyText) + ell, true
	case v.typ == '!':
		return "(error) " + esc(text, 4*maxReplyText) + ell, true
	case v.typ == ':':
		return "(integer) " + string(text), false
	case v.typ == ',':
		return "(double) " + string(text), false
	case v.typ == '(':
		return "(big number) " + string(text), false
	case v.typ == '#':
		if string(text) == "t" {
			return "(true)", false
		}
		return "(false)", false
	case v.typ == '$':
		return `"` + quote(text) + `"` + ell, false
	case v.typ == '=':
		// Verbatim string: a 3-letter format and ':' precede the text.
		if len(text) >= 4 && text[3] == ':' {
			text = text[4:]
		}
		return `"` + quote(text) + `"` + ell, false
	}
	kind := map[byte]string{'*': "array", '%': "map", '~': "set", '>': "push"}[v.typ]
	if kind == "" {
		return "", false
	}
	n := v.n
	if n < 0 {
		n = v.nargs // streamed: count what came
		if v.typ == '%' {
			n /= 2
		}
	}
	unit := "elements"
	switch {
	case v.typ == '%' && n == 1:
		unit = "entry"
	case v.typ == '%':
		unit = "entries"
	case n == 1:
		unit = "element"
	}
	return "(" + kind + ") " + strconv.FormatInt(n, 10) + " " + unit, false
}

// quote escapes a string reply the way redis-cli shows it inside double quotes.
func quote(b []byte) string {
	s := esc(b, 4*maxReplyText)
	if strings.IndexByte(s, '"') < 0 {
		return s
	}
	return strings.ReplaceAll(s, `"`, `\"`)
}

// cutEscaped cuts an escaped string to at most n bytes without splitting a \xHH or
// \\ escape.
func cutEscaped(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// An escape starts with a backslash at most 3 bytes before the cut.
	for i := n - 1; i >= 0 && i >= n-3; i-- {
		if s[i] != '\\' {
			continue
		}
		// Count the backslashes ending at i: an odd run means s[i] starts an escape.
		j := i
		for j > 0 && s[j-1] == '\\' {
			j--
		}
		if (i-j)%2 == 0 {
			elen := 2
			if i+1 < len(s) && s[i+1] == 'x' {
				elen = 4
			}
			if i+elen > n {
				return s[:i]
			}
		}
		break
	}
	return s[:n]
}
