package redis

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
)

// Captured by testdata/gen.sh (redis-server 7.0 on 127.0.0.1:6379, redis-cli --pipe
// and redis-cli -3), shown by `tcpdump -nn -X`.
const (
	// 14:05:04.368884 IP 127.0.0.1.35582 > 127.0.0.1.6379: Flags [P.], seq 1:348, ack 1, win 64, options [nop,nop,TS val 1716747424 ecr 2400744649], length 347: RESP "SET" "pipe:1" "1" "SET" "pipe:2" "2" "SET" "pipe:3" "3" "SET" "pipe:4" "4" "SET" "pipe:5" "5" "SET" "pipe:6" "6" "SET" "pipe:7" "7" "SET" "pipe:8" "8" "INCR" "pipe:1" "MGET" "pipe:1" "pipe:9" "LPUSH" "pipe:2"
	pipeCommands = `
	0x0000:  4500 018f aa86 4000 4006 90e0 7f00 0001  E.....@.@.......
	0x0010:  7f00 0001 8afe 18eb 7555 5a5d 09d7 ce4a  ........uUZ]...J
	0x0020:  8018 0040 ff83 0000 0101 080a 6653 7ca0  ...@........fS|.
	0x0030:  8f18 74c9 2a33 0d0a 2433 0d0a 5345 540d  ..t.*3..$3..SET.
	0x0040:  0a24 360d 0a70 6970 653a 310d 0a24 310d  .$6..pipe:1..$1.
	0x0050:  0a31 0d0a 2a33 0d0a 2433 0d0a 5345 540d  .1..*3..$3..SET.
	0x0060:  0a24 360d 0a70 6970 653a 320d 0a24 310d  .$6..pipe:2..$1.
	0x0070:  0a32 0d0a 2a33 0d0a 2433 0d0a 5345 540d  .2..*3..$3..SET.
	0x0080:  0a24 360d 0a70 6970 653a 330d 0a24 310d  .$6..pipe:3..$1.
	0x0090:  0a33 0d0a 2a33 0d0a 2433 0d0a 5345 540d  .3..*3..$3..SET.
	0x00a0:  0a24 360d 0a70 6970 653a 340d 0a24 310d  .$6..pipe:4..$1.
	0x00b0:  0a34 0d0a 2a33 0d0a 2433 0d0a 5345 540d  .4..*3..$3..SET.
	0x00c0:  0a24 360d 0a70 6970 653a 350d 0a24 310d  .$6..pipe:5..$1.
	0x00d0:  0a35 0d0a 2a33 0d0a 2433 0d0a 5345 540d  .5..*3..$3..SET.
	0x00e0:  0a24 360d 0a70 6970 653a 360d 0a24 310d  .$6..pipe:6..$1.
	0x00f0:  0a36 0d0a 2a33 0d0a 2433 0d0a 5345 540d  .6..*3..$3..SET.
	0x0100:  0a24 360d 0a70 6970 653a 370d 0a24 310d  .$6..pipe:7..$1.
	0x0110:  0a37 0d0a 2a33 0d0a 2433 0d0a 5345 540d  .7..*3..$3..SET.
	0x0120:  0a24 360d 0a70 6970 653a 380d 0a24 310d  .$6..pipe:8..$1.
	0x0130:  0a38 0d0a 2a32 0d0a 2434 0d0a 494e 4352  .8..*2..$4..INCR
	0x0140:  0d0a 2436 0d0a 7069 7065 3a31 0d0a 2a33  ..$6..pipe:1..*3
	0x0150:  0d0a 2434 0d0a 4d47 4554 0d0a 2436 0d0a  ..$4..MGET..$6..
	0x0160:  7069 7065 3a31 0d0a 2436 0d0a 7069 7065  pipe:1..$6..pipe
	0x0170:  3a39 0d0a 2a32 0d0a 2435 0d0a 4c50 5553  :9..*2..$5..LPUS
	0x0180:  480d 0a24 360d 0a70 6970 653a 320d 0a    H..$6..pipe:2..`

	// 14:05:04.368920 IP 127.0.0.1.35582 > 127.0.0.1.6379: Flags [P.], seq 348:391, ack 1, win 64, options [nop,nop,TS val 1716747424 ecr 2400744650], length 43: RESP "*2" "ECHO" "M-EwuX&M-ys^\M-,}*FM-^J^M^IM-^DPM-^YM-kM-?"
	pipeEcho = `
	0x0000:  4500 005f aa87 4000 4006 920f 7f00 0001  E.._..@.@.......
	0x0010:  7f00 0001 8afe 18eb 7555 5bb8 09d7 ce4a  ........uU[....J
	0x0020:  8018 0040 fe53 0000 0101 080a 6653 7ca0  ...@.S......fS|.
	0x0030:  8f18 74ca 0d0a 2a32 0d0a 2434 0d0a 4543  ..t...*2..$4..EC
	0x0040:  484f 0d0a 2432 300d 0ac5 7775 5826 f973  HO..$20...wuX&.s
	0x0050:  1cac 7d2a 468a 0d09 8450 99eb bf0d 0a    ..}*F....P.....`

	// 14:05:04.369007 IP 127.0.0.1.6379 > 127.0.0.1.35582: Flags [P.], seq 1:140, ack 391, win 64, options [nop,nop,TS val 2400744650 ecr 1716747424], length 139: RESP "OK" "OK" "OK" "OK" "OK" "OK" "OK" "OK" "2" "2" null "ERR wrong number of arguments for 'lpush' command" "M-EwuX&M-ys^\M-,}*FM-^J^M^IM-^DPM-^YM-kM-?"
	pipeReplies = `
	0x0000:  4500 00bf 88e1 4000 4006 b355 7f00 0001  E.....@.@..U....
	0x0010:  7f00 0001 18eb 8afe 09d7 ce4a 7555 5be3  ...........JuU[.
	0x0020:  8018 0040 feb3 0000 0101 080a 8f18 74ca  ...@..........t.
	0x0030:  6653 7ca0 2b4f 4b0d 0a2b 4f4b 0d0a 2b4f  fS|.+OK..+OK..+O
	0x0040:  4b0d 0a2b 4f4b 0d0a 2b4f 4b0d 0a2b 4f4b  K..+OK..+OK..+OK
	0x0050:  0d0a 2b4f 4b0d 0a2b 4f4b 0d0a 3a32 0d0a  ..+OK..+OK..:2..
	0x0060:  2a32 0d0a 2431 0d0a 320d 0a24 2d31 0d0a  *2..$1..2..$-1..
	0x0070:  2d45 5252 2077 726f 6e67 206e 756d 6265  -ERR.wrong.numbe
	0x0080:  7220 6f66 2061 7267 756d 656e 7473 2066  r.of.arguments.f
	0x0090:  6f72 2027 6c70 7573 6827 2063 6f6d 6d61  or.'lpush'.comma
	0x00a0:  6e64 0d0a 2432 300d 0ac5 7775 5826 f973  nd..$20...wuX&.s
	0x00b0:  1cac 7d2a 468a 0d09 8450 99eb bf0d 0a    ..}*F....P.....`

	// 14:05:04.390262 IP 127.0.0.1.6379 > 127.0.0.1.35614: Flags [P.], seq 1:147, ack 23, win 64, options [nop,nop,TS val 383071246 ecr 2462040075], length 146: RESP "%7" "server" "redis" "version" "7.0.15" "proto" "3" "id" "12" "mode" "standalone" "role" "master" "modules" empty
	helloReply = `
	0x0000:  4500 00c6 b643 4000 4006 85ec 7f00 0001  E....C@.@.......
	0x0010:  7f00 0001 18eb 8b1e e890 56a3 d3ba 158b  ..........V.....
	0x0020:  8018 0040 feba 0000 0101 080a 16d5 340e  ...@..........4.
	0x0030:  92bf c00b 2537 0d0a 2436 0d0a 7365 7276  ....%7..$6..serv
	0x0040:  6572 0d0a 2435 0d0a 7265 6469 730d 0a24  er..$5..redis..$
	0x0050:  370d 0a76 6572 7369 6f6e 0d0a 2436 0d0a  7..version..$6..
	0x0060:  372e 302e 3135 0d0a 2435 0d0a 7072 6f74  7.0.15..$5..prot
	0x0070:  6f0d 0a3a 330d 0a24 320d 0a69 640d 0a3a  o..:3..$2..id..:
	0x0080:  3132 0d0a 2434 0d0a 6d6f 6465 0d0a 2431  12..$4..mode..$1
	0x0090:  300d 0a73 7461 6e64 616c 6f6e 650d 0a24  0..standalone..$
	0x00a0:  340d 0a72 6f6c 650d 0a24 360d 0a6d 6173  4..role..$6..mas
	0x00b0:  7465 720d 0a24 370d 0a6d 6f64 756c 6573  ter..$7..modules
	0x00c0:  0d0a 2a30 0d0a                           ..*0..`

	// 14:05:04.390377 IP 127.0.0.1.6379 > 127.0.0.1.35614: Flags [P.], seq 147:153, ack 62, win 64, options [nop,nop,TS val 383071246 ecr 2462040075], length 6: RESP ",1.5"
	doubleReply = `
	0x0000:  4500 003a b644 4000 4006 8677 7f00 0001  E..:.D@.@..w....
	0x0010:  7f00 0001 18eb 8b1e e890 5735 d3ba 15b2  ..........W5....
	0x0020:  8018 0040 fe2e 0000 0101 080a 16d5 340e  ...@..........4.
	0x0030:  92bf c00b 2c31 2e35 0d0a                 ....,1.5..`

	// 14:05:04.426760 IP 127.0.0.1.6379 > 127.0.0.1.35652: Flags [P.], seq 147:180, ack 52, win 64, options [nop,nop,TS val 1068557577 ecr 1098955558], length 33: RESP ">3" "subscribe" "news" "1"
	subscribePush = `
	0x0000:  4500 0055 9044 4000 4006 ac5c 7f00 0001  E..U.D@.@..\....
	0x0010:  7f00 0001 18eb 8b44 347e e703 742f 05bd  .......D4~..t/..
	0x0020:  8018 0040 fe49 0000 0101 080a 3fb0 e509  ...@.I......?...
	0x0030:  4180 bb26 3e33 0d0a 2439 0d0a 7375 6273  A..&>3..$9..subs
	0x0040:  6372 6962 650d 0a24 340d 0a6e 6577 730d  cribe..$4..news.
	0x0050:  0a3a 310d 0a                             .:1..`
)

// step is data sent by one side at some millisecond.
type step struct {
	side dissect.Side
	data string
	ms   int
}

var (
	C = dissect.SideA // the client in most tests
	S = dissect.SideB
)

// run feeds steps to a new parser, closes it and returns the entries.
func run(steps ...step) *collector {
	var c collector
	p := Dissector.NewParser(c.Emit)
	for _, s := range steps {
		p.Feed(chunk(s.side, []byte(s.data), at(s.ms)))
	}
	p.Close(at(1000))
	return &c
}

// brief is a one-line rendering of an entry for table tests.
func brief(e *dissect.Entry) string {
	r := e.Redis
	s := ""
	if r.HasRequest {
		s = fmt.Sprintf("%s %q key=%q", r.Type, r.Command, r.Key)
	} else {
		s = "-"
	}
	if r.HasResponse {
		s += " → " + r.Reply
	} else {
		s += " → none"
	}
	if e.ErrorType != "" {
		s += " [" + e.ErrorType + "]"
	}
	return s
}

func briefs(c *collector) []string {
	var out []string
	for _, e := range c.Entries {
		out = append(out, brief(e))
	}
	return out
}

func TestPipelinedFixture(t *testing.T) {
	cmds := string(l4Payload(t, fromTcpdumpX(t, pipeCommands)))
	echo := string(l4Payload(t, fromTcpdumpX(t, pipeEcho)))
	replies := string(l4Payload(t, fromTcpdumpX(t, pipeReplies)))
	c := run(step{C, cmds, 0}, step{C, echo, 0}, step{S, replies, 1})
	want := []string{
		`SET "SET pipe:1 1" key="pipe:1" → OK`,
		`SET "SET pipe:2 2" key="pipe:2" → OK`,
		`SET "SET pipe:3 3" key="pipe:3" → OK`,
		`SET "SET pipe:4 4" key="pipe:4" → OK`,
		`SET "SET pipe:5 5" key="pipe:5" → OK`,
		`SET "SET pipe:6 6" key="pipe:6" → OK`,
		`SET "SET pipe:7 7" key="pipe:7" → OK`,
		`SET "SET pipe:8 8" key="pipe:8" → OK`,
		`INCR "INCR pipe:1" key="pipe:1" → (integer) 2`,
		`MGET "MGET pipe:1 pipe:9" key="pipe:1" → (array) 2 elements`,
		`LPUSH "LPUSH pipe:2" key="pipe:2" → (error) ERR wrong number of arguments for 'lpush' command`,
		`ECHO "ECHO \\xc5wuX&\\xf9s\\x1c\\xac}*F\\x8a\\r\\t\\x84P\\x99\\xeb\\xbf" key="" → "\xc5wuX&\xf9s\x1c\xac}*F\x8a\r\t\x84P\x99\xeb\xbf"`,
	}
	if got := briefs(c); !reflect.DeepEqual(got, want) {
		t.Fatalf("entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Sizes add up to the bytes on the wire; the error is flagged; all from side A.
	var req, resp int
	for i, e := range c.Entries {
		req += e.Redis.RequestSize
		resp += e.Redis.ResponseSize
		if c.Clients[i] != C || e.Elapsed != time.Millisecond || e.Protocol != dissect.ProtoRedis {
			t.Errorf("entry %d: client %v elapsed %v protocol %q", i, c.Clients[i], e.Elapsed, e.Protocol)
		}
		if e.Redis.ReplyIsError != (i == 10) {
			t.Errorf("entry %d: ReplyIsError %v", i, e.Redis.ReplyIsError)
		}
	}
	// redis-cli --pipe sends a CRLF before its closing ECHO: Redis ignores that empty
	// inline line, and so does the dissector.
	if req != len(cmds)+len(echo)-2 || resp != len(replies) {
		t.Errorf("sizes %d/%d, want %d/%d", req, resp, len(cmds)+len(echo)-2, len(replies))
	}
}

func TestRESP3Fixtures(t *testing.T) {
	hello := string(l4Payload(t, fromTcpdumpX(t, helloReply)))
	double := string(l4Payload(t, fromTcpdumpX(t, doubleReply)))
	push := string(l4Payload(t, fromTcpdumpX(t, subscribePush)))
	c := run(
		step{C, "*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n", 0}, step{S, hello, 1},
		step{C, "*3\r\n$6\r\nZSCORE\r\n$6\r\nscores\r\n$5\r\nalice\r\n", 2}, step{S, double, 3},
		step{C, "*2\r\n$9\r\nSUBSCRIBE\r\n$4\r\nnews\r\n", 4}, step{S, push, 5},
		step{S, ">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n", 6},
	)
	want := []string{
		`HELLO "HELLO 3" key="" → (map) 7 entries`,
		`ZSCORE "ZSCORE scores alice" key="scores" → (double) 1.5`,
		`SUBSCRIBE "SUBSCRIBE news" key="" → (push) 3 elements`,
		`- → (push) 3 elements`,
	}
	if got := briefs(c); !reflect.DeepEqual(got, want) {
		t.Fatalf("entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if r := c.Entries[0].Redis; r.ResponseSize != len(hello) || r.RequestSize != 22 {
		t.Errorf("HELLO sizes %d/%d", r.RequestSize, r.ResponseSize)
	}
	if e := c.Entries[3]; e.Redis.HasRequest || e.ErrorType != "" || !e.Timestamp.Equal(at(6)) {
		t.Errorf("push entry %+v", e)
	}
}

func TestReplyRendering(t *testing.T) {
	long := strings.Repeat("x", 300)
	tests := []struct {
		reply string
		want  string
		isErr bool
	}{
		{"+OK\r\n", "OK", false},
		{"-ERR unknown command 'FOO'\r\n", "(error) ERR unknown command 'FOO'", true},
		{":-42\r\n", "(integer) -42", false},
		{"$5\r\nhello\r\n", `"hello"`, false},
		{"$0\r\n\r\n", `""`, false},
		{"$-1\r\n", "(nil)", false},
		{"*-1\r\n", "(nil)", false},
		{"_\r\n", "(nil)", false},
		{"*0\r\n", "(array) 0 elements", false},
		{"*1\r\n:1\r\n", "(array) 1 element", false},
		{"*2\r\n*1\r\n:1\r\n$1\r\na\r\n", "(array) 2 elements", false},
		{"%1\r\n+a\r\n:1\r\n", "(map) 1 entry", false},
		{"~2\r\n+a\r\n+b\r\n", "(set) 2 elements", false},
		{",3.14\r\n", "(double) 3.14", false},
		{",-inf\r\n", "(double) -inf", false},
		{"#t\r\n", "(true)", false},
		{"#f\r\n", "(false)", false},
		{"(3492890328409238509324850943850943825024385\r\n", "(big number) 3492890328409238509324850943850943825024385", false},
		{"!21\r\nSYNTAX invalid syntax\r\n", "(error) SYNTAX invalid syntax", true},
		{"=15\r\ntxt:Some string\r\n", `"Some string"`, false},
		{"|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n$5\r\nvalue\r\n", `"value"`, false},
		{"*2\r\n|1\r\n+ttl\r\n:3\r\n:1\r\n:2\r\n", "(array) 2 elements", false},
		{"$?\r\n;4\r\nHell\r\n;5\r\no wor\r\n;1\r\nd\r\n;0\r\n", `"Hello word"`, false},
		{"*?\r\n:1\r\n:2\r\n:3\r\n.\r\n", "(array) 3 elements", false},
		{"%?\r\n+a\r\n:1\r\n+b\r\n:2\r\n.\r\n", "(map) 2 entries", false},
		{"$6\r\na\"b\\\x00\n\r\n", `"a\"b\\\x00\n"`, false},
		{"$300\r\n" + long + "\r\n", `"` + long[:maxReplyText] + `"...`, false},
		{"+" + long + "\r\n", long[:maxReplyText] + "...", false},
	}
	for _, tt := range tests {
		c := run(step{C, "*1\r\n$4\r\nPING\r\n", 0}, step{S, tt.reply, 1})
		if len(c.Entries) != 1 {
			t.Errorf("%q: %d entries", tt.reply, len(c.Entries))
			continue
		}
		r := c.Entries[0].Redis
		if r.Reply != tt.want || r.ReplyIsError != tt.isErr || r.ResponseSize != len(tt.reply) || c.Entries[0].ErrorType != "" {
			t.Errorf("%q: reply %q error %v size %d (%q), want %q error %v size %d",
				tt.reply, r.Reply, r.ReplyIsError, r.ResponseSize, c.Entries[0].ErrorType, tt.want, tt.isErr, len(tt.reply))
		}
	}
}

func TestCommandFields(t *testing.T) {
	tests := []struct {
		args           []string
		typ, line, key string
	}{
		{[]string{"get", "session:1234"}, "GET", "get session:1234", "session:1234"},
		{[]string{"PING"}, "PING", "PING", ""},
		{[]string{"AUTH", "user", "secret"}, "AUTH", "AUTH user secret", ""},
		{[]string{"SELECT", "2"}, "SELECT", "SELECT 2", ""},
		{[]string{"CLIENT", "SETNAME", "x"}, "CLIENT", "CLIENT SETNAME x", ""},
		{[]string{"CONFIG", "GET", "maxmemory"}, "CONFIG", "CONFIG GET maxmemory", ""},
		{[]string{"INFO"}, "INFO", "INFO", ""},
		{[]string{"HELLO", "3"}, "HELLO", "HELLO 3", ""},
		{[]string{"MSET", "a", "1", "b", "2"}, "MSET", "MSET a 1 b 2", "a"},
		{[]string{"EVAL", "return 1", "1", "k1", "a"}, "EVAL", "EVAL return 1 1 k1 a", "k1"},
		{[]string{"EVALSHA", "abc", "0"}, "EVALSHA", "EVALSHA abc 0", ""},
		{[]string{"ZUNION", "2", "z1", "z2"}, "ZUNION", "ZUNION 2 z1 z2", "z1"},
		{[]string{"XREAD", "COUNT", "2", "STREAMS", "s1", "0"}, "XREAD", "XREAD COUNT 2 STREAMS s1 0", "s1"},
		{[]string{"OBJECT", "encoding", "k"}, "OBJECT", "OBJECT encoding k", "k"},
		{[]string{"OBJECT", "HELP"}, "OBJECT", "OBJECT HELP", ""},
		{[]string{"MEMORY", "USAGE", "k"}, "MEMORY", "MEMORY USAGE k", "k"},
		{[]string{"JSON.GET", "doc", "$"}, "JSON.GET", "JSON.GET doc $", "doc"},
		{[]string{"MYMODULE.CMD", "x"}, "MYMODULE.CMD", "MYMODULE.CMD x", ""},
		{[]string{"SET", strings.Repeat("k", 100), "v"}, "SET", "SET " + strings.Repeat("k", 100) + " v", strings.Repeat("k", 64)},
		{[]string{"SET", "bin\x00\xff\\", "v\r\n"}, "SET", `SET bin\x00\xff\\ v\r\n`, `bin\x00\xff\\`},
		{[]string{"SET", "k", strings.Repeat("v", 5000)}, "SET", "SET k " + strings.Repeat("v", maxCommand-6-3) + "...", "k"},
	}
	for _, tt := range tests {
		var b strings.Builder
		fmt.Fprintf(&b, "*%d\r\n", len(tt.args))
		for _, a := range tt.args {
			fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
		}
		c := run(step{C, b.String(), 0}, step{S, "+OK\r\n", 1})
		if len(c.Entries) != 1 {
			t.Errorf("%q: %d entries", tt.args, len(c.Entries))
			continue
		}
		r := c.Entries[0].Redis
		if r.Type != tt.typ || r.Command != tt.line || r.Key != tt.key || r.RequestSize != b.Len() {
			t.Errorf("%q:\n got type %q command %q key %q size %d\nwant type %q command %q key %q size %d",
				tt.args, r.Type, r.Command, r.Key, r.RequestSize, tt.typ, tt.line, tt.key, b.Len())
		}
		if len(r.Command) > maxCommand || len(r.Key) > maxKey {
			t.Errorf("%q: command %d bytes, key %d bytes", tt.args, len(r.Command), len(r.Key))
		}
	}
}

func TestManyArguments(t *testing.T) {
	// 2000 arguments: the command line is cut, the count does not matter.
	var b strings.Builder
	b.WriteString("*2001\r\n$4\r\nSADD\r\n")
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&b, "$5\r\nm%04d\r\n", i)
	}
	c := run(step{C, b.String(), 0}, step{S, ":2000\r\n", 1})
	r := c.Entries[0].Redis
	if len(r.Command) > maxCommand || !strings.HasSuffix(r.Command, "...") || !strings.HasPrefix(r.Command, "SADD m0000 m0001 ") ||
		r.Key != "m0000" || r.RequestSize != b.Len() || r.Reply != "(integer) 2000" {
		t.Errorf("got %d-byte command %q…, key %q, size %d, reply %q", len(r.Command), r.Command[:40], r.Key, r.RequestSize, r.Reply)
	}
}

func TestInlineCommands(t *testing.T) {
	c := run(
		step{C, "PING\r\n", 0}, step{S, "+PONG\r\n", 1},
		step{C, "\r\n", 2}, // ignored by Redis: no reply
		step{C, "set  greeting \"hello \\\"world\\\"\\x21\"\n", 3}, step{S, "+OK\r\n", 4},
		step{C, "get 'it\\'s'\r\n", 5}, step{S, "$-1\r\n", 6},
		step{C, "   \r\n", 7},
		step{C, "EXISTS a b\r\n", 8}, step{S, ":0\r\n", 9},
	)
	want := []string{
		`PING "PING" key="" → PONG`,
		`SET "set greeting hello \"world\"!" key="greeting" → OK`,
		`GET "get it's" key="it's" → (nil)`,
		`EXISTS "EXISTS a b" key="a" → (integer) 0`,
	}
	if got := briefs(c); !reflect.DeepEqual(got, want) {
		t.Fatalf("entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if r := c.Entries[1].Redis; r.RequestSize != len("set  greeting \"hello \\\"world\\\"\\x21\"\n") {
		t.Errorf("inline size %d", r.RequestSize)
	}
}

func TestSplitInline(t *testing.T) {
	tests := []struct {
		line string
		want []string
	}{
		{"", nil},
		{"  \t ", nil},
		{"GET k", []string{"GET", "k"}},
		{`SET "a b" 'c d'`, []string{"SET", "a b", "c d"}},
		{`SET "\x41\n\q" ''`, []string{"SET", "A\nq", ""}},
		{`SET 'it\'s'`, []string{"SET", "it's"}},
		{`SET "unterminated`, []string{"SET", "unterminated"}},
	}
	for _, tt := range tests {
		var got []string
		for _, a := range splitInline([]byte(tt.line)) {
			got = append(got, string(a))
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("splitInline(%q) = %q, want %q", tt.line, got, tt.want)
		}
	}
}

func TestEscape(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
		cut  bool
	}{
		{"plain", 10, "plain", false},
		{"plain", 3, "pla", true},
		{"a\x00b", 10, `a\x00b`, false},
		{"a\x00b", 4, `a`, true},
		{"\\\\", 3, `\\`, true},
		{"\t\r\n", 6, `\t\r\n`, false},
		{"\xff", 4, `\xff`, false},
	}
	for _, tt := range tests {
		got, cut := escape([]byte(tt.in), tt.max)
		if got != tt.want || cut != tt.cut {
			t.Errorf("escape(%q, %d) = %q, %v; want %q, %v", tt.in, tt.max, got, cut, tt.want, tt.cut)
		}
	}
	if got := cutEscaped(`abc\x41`, 5); got != "abc" {
		t.Errorf("cutEscaped = %q", got)
	}
	if got := cutEscaped(`ab\\x41`, 5); got != `ab\\x` {
		t.Errorf("cutEscaped = %q", got)
	}
}

func TestProbe(t *testing.T) {
	on := [2]uint16{40000, 6379}
	off := [2]uint16{40000, 7000}
	tests := []struct {
		name  string
		data  string
		ports [2]uint16
		want  dissect.Verdict
	}{
		{"empty", "", on, dissect.NeedMore},
		{"star", "*", off, dissect.NeedMore},
		{"count", "*3\r", off, dissect.NeedMore},
		{"first bulk header", "*3\r\n$3\r\n", off, dissect.NeedMore},
		{"known command away from 6379", "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n", off, dissect.Match},
		{"lower-case known command", "*2\r\n$3\r\nget\r\n", off, dissect.Match},
		{"unknown command away from 6379", "*1\r\n$6\r\nFOOBAR\r\n", off, dissect.NoMatch},
		{"unknown command on 6379", "*1\r\n$6\r\nFOOBAR\r\n", on, dissect.Match},
		{"array reply on 6379", "*2\r\n:1\r\n:2\r\n", on, dissect.Match},
		{"array reply away from 6379", "*2\r\n:1\r\n", off, dissect.NoMatch},
		{"zero-length command name", "*1\r\n$0\r\n\r\n", off, dissect.NoMatch},
		{"inline PING on 6379", "PING\r\n", on, dissect.Match},
		{"inline prefix", "PIN", on, dissect.NeedMore},
		{"inline away from 6379", "PING\r\n", off, dissect.NoMatch},
		{"HTTP on 6379", "GET / HTTP/1.1\r\n", on, dissect.Match}, // GET is a Redis command too
		{"HTTP POST on 6379", "POST / HTTP/1.1\r\n", on, dissect.NoMatch},
		{"OK reply", "+OK\r\n", on, dissect.Match},
		{"error reply", "-NOAUTH Authentication required.\r\n", on, dissect.Match},
		{"integer reply", ":12\r\n", on, dissect.Match},
		{"bulk reply", "$5\r\nhello\r\n", on, dissect.Match},
		{"null bulk", "$-1\r\n", on, dissect.Match},
		{"map reply", "%7\r\n", on, dissect.Match},
		{"partial reply line", "+O", on, dissect.NeedMore},
		{"bad integer", ":x\r\n", on, dissect.NoMatch},
		{"reply away from 6379", "+OK\r\n", off, dissect.NoMatch},
		{"TLS", "\x16\x03\x01\x02\x00", on, dissect.NoMatch},
		{"binary", "\x00\x01", on, dissect.NoMatch},
		{"IMAP", "* OK IMAP4rev1 ready\r\n", off, dissect.NoMatch},
	}
	for _, tt := range tests {
		if got := Dissector.Probe(C, []byte(tt.data), tt.ports); got != tt.want {
			t.Errorf("%s: Probe(%q) = %v, want %v", tt.name, tt.data, got, tt.want)
		}
	}
	if Dissector.Protocol() != dissect.ProtoRedis {
		t.Errorf("Protocol() = %q", Dissector.Protocol())
	}
}

func TestCommandTable(t *testing.T) {
	seen := map[string]bool{}
	for _, names := range commandLists {
		for _, name := range strings.Fields(names) {
			if seen[name] {
				t.Errorf("command %s listed twice", name)
			}
			seen[name] = true
		}
	}
	if len(seen) != len(commands) || len(commands) < 200 {
		t.Errorf("%d names listed, %d in the table", len(seen), len(commands))
	}
}
