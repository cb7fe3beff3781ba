package redis

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
)

func cmd(args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

func TestPairing(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
		want  []string
	}{{
		name: "client is side B",
		steps: []step{
			{S, cmd("GET", "k"), 0}, {C, "$1\r\nv\r\n", 1},
		},
		want: []string{`GET "GET k" key="k" → "v"`},
	}, {
		name: "server speaks first (capture started mid-connection)",
		steps: []step{
			{S, "+OK\r\n", 0}, {C, cmd("GET", "k"), 1}, {S, ":1\r\n", 2},
		},
		want: []string{`- → OK [no_request]`, `GET "GET k" key="k" → (integer) 1`},
	}, {
		name: "array reply first from side B is not taken for a command",
		steps: []step{
			{S, "*2\r\n$1\r\na\r\n$1\r\nb\r\n", 0}, {C, cmd("LRANGE", "l", "0", "-1"), 1}, {S, "*0\r\n", 2},
		},
		want: []string{`- → (array) 2 elements [no_request]`, `LRANGE "LRANGE l 0 -1" key="l" → (array) 0 elements`},
	}, {
		name: "command without reply at close",
		steps: []step{
			{C, cmd("BLPOP", "q", "0"), 0},
		},
		want: []string{`BLPOP "BLPOP q 0" key="q" → none [no_response]`},
	}, {
		name: "RESP2 pub/sub: one confirmation per channel, messages, PING in subscribed mode",
		steps: []step{
			{C, cmd("SUBSCRIBE", "a", "b"), 0},
			{S, "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n", 1},
			{S, "*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n", 2},
			{S, "*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nhi\r\n", 3},
			{C, cmd("PING"), 4},
			{S, "*3\r\n$7\r\nmessage\r\n$1\r\nb\r\n$2\r\nyo\r\n", 5},
			{S, "*2\r\n$4\r\npong\r\n$0\r\n\r\n", 6},
			{C, cmd("UNSUBSCRIBE"), 7},
			{S, "*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n", 8},
			{S, "*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:0\r\n", 9},
		},
		want: []string{
			`SUBSCRIBE "SUBSCRIBE a b" key="" → (array) 3 elements`,
			`- → (array) 3 elements`,
			`- → (array) 3 elements`,
			`PING "PING" key="" → (array) 2 elements`,
			`UNSUBSCRIBE "UNSUBSCRIBE" key="" → (array) 3 elements`,
			`- → (array) 3 elements`,
		},
	}, {
		name: "RESP3 pub/sub and client-side caching pushes between replies",
		steps: []step{
			{C, cmd("SUBSCRIBE", "a"), 0},
			{S, ">3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n", 1},
			{C, cmd("GET", "k"), 2},
			{S, ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n", 3},
			{S, "$1\r\nv\r\n", 4},
		},
		want: []string{
			`SUBSCRIBE "SUBSCRIBE a" key="" → (push) 3 elements`,
			`- → (push) 2 elements`,
			`GET "GET k" key="k" → "v"`,
		},
	}, {
		name: "an array that looks like a message is a reply outside pub/sub mode",
		steps: []step{
			{C, cmd("LRANGE", "l", "0", "-1"), 0},
			{S, "*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nb\r\n", 1},
		},
		want: []string{`LRANGE "LRANGE l 0 -1" key="l" → (array) 3 elements`},
	}, {
		name: "subscribe error",
		steps: []step{
			{C, cmd("SUBSCRIBE"), 0},
			{S, "-ERR wrong number of arguments for 'subscribe' command\r\n", 1},
			{C, cmd("GET", "k"), 2}, {S, "$-1\r\n", 3},
		},
		want: []string{
			`SUBSCRIBE "SUBSCRIBE" key="" → (error) ERR wrong number of arguments for 'subscribe' command`,
			`GET "GET k" key="k" → (nil)`,
		},
	}, {
		name: "CLIENT REPLY OFF, SKIP and ON",
		steps: []step{
			{C, cmd("CLIENT", "REPLY", "OFF"), 0},
			{C, cmd("SET", "a", "1"), 1},
			{C, cmd("CLIENT", "REPLY", "ON"), 2},
			{S, "+OK\r\n", 3},
			{C, cmd("CLIENT", "REPLY", "SKIP"), 4},
			{C, cmd("SET", "b", "2"), 5},
			{C, cmd("GET", "b"), 6},
			{S, "$1\r\n2\r\n", 7},
		},
		want: []string{
			`CLIENT "CLIENT REPLY OFF" key="" → none`,
			`SET "SET a 1" key="a" → none`,
			`CLIENT "CLIENT REPLY ON" key="" → OK`,
			`CLIENT "CLIENT REPLY SKIP" key="" → none`,
			`SET "SET b 2" key="b" → none`,
			`GET "GET b" key="b" → "2"`,
		},
	}, {
		name: "MONITOR streams replies without commands",
		steps: []step{
			{C, cmd("MONITOR"), 0}, {S, "+OK\r\n", 1},
			{S, "+1700000000.000001 [0 127.0.0.1:5000] \"GET\" \"k\"\r\n", 2},
		},
		want: []string{
			`MONITOR "MONITOR" key="" → OK`,
			`- → 1700000000.000001 [0 127.0.0.1:5000] "GET" "k" [no_request]`,
		},
	}, {
		name: "empty multibulk and null arrays from the client are ignored like Redis does",
		steps: []step{
			{C, "*0\r\n*-1\r\n" + cmd("PING"), 0}, {S, "+PONG\r\n", 1},
		},
		want: []string{`PING "PING" key="" → PONG`},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := run(tt.steps...)
			if got := briefs(c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			client := tt.steps[0].side
			if !strings.HasPrefix(tt.steps[0].data, "*") || strings.HasPrefix(tt.steps[0].data, "*2\r\n$1") {
				client = C
			}
			for i, side := range c.Clients {
				if side != client {
					t.Errorf("entry %d: client %v, want %v", i, side, client)
				}
			}
		})
	}
}

func TestTimesAndSizes(t *testing.T) {
	// Two pipelined commands in one chunk, replies in two chunks.
	get, set := cmd("GET", "a"), cmd("SET", "a", "1")
	data := get + set
	ch := dissect.Chunk{Side: C, Data: []byte(data), Time: func(off int) time.Time {
		if off < len(get) {
			return at(10)
		}
		return at(11)
	}}
	var c collector
	p := Dissector.NewParser(c.Emit)
	p.Feed(ch)
	p.Feed(chunk(S, []byte("$1\r\n"), at(15)))
	p.Feed(chunk(S, []byte("x\r\n+OK\r\n"), at(17)))
	p.Close(at(20))
	if len(c.Entries) != 2 {
		t.Fatalf("%d entries", len(c.Entries))
	}
	e0, e1 := c.Entries[0], c.Entries[1]
	if !e0.Timestamp.Equal(at(10)) || e0.Elapsed != 5*time.Millisecond || e0.Redis.RequestSize != len(get) || e0.Redis.ResponseSize != 7 {
		t.Errorf("GET at %v after %v sizes %d/%d", e0.Timestamp, e0.Elapsed, e0.Redis.RequestSize, e0.Redis.ResponseSize)
	}
	if !e1.Timestamp.Equal(at(11)) || e1.Elapsed != 6*time.Millisecond || e1.Redis.RequestSize != len(set) || e1.Redis.ResponseSize != 5 {
		t.Errorf("SET at %v after %v sizes %d/%d", e1.Timestamp, e1.Elapsed, e1.Redis.RequestSize, e1.Redis.ResponseSize)
	}
}

// conversation is a session exercising every RESP type, inline commands, pipelining
// and pushes; boundaries are the offsets where each command and each reply ends.
func conversation() (client, server string, cmdEnds, replyEnds []int) {
	cmds := []string{
		cmd("HELLO", "3"),
		cmd("SET", "user:1", "alice"),
		"GET user:1\r\n",
		cmd("HGETALL", "user:2"),
		cmd("ZSCORE", "z", "a"),
		cmd("EXISTS", "a"),
		cmd("DEBUG", "PROTOCOL", "bignum"),
		cmd("DEBUG", "PROTOCOL", "verbatim"),
		cmd("DEBUG", "PROTOCOL", "attrib"),
		cmd("SMEMBERS", "s"),
		cmd("INCR", "user:1"),
		cmd("GET", "missing"),
		cmd("XREAD", "STREAMS", "s", "0"),
		cmd("SET", "bin", "\x00\xff\r\n"),
	}
	replies := []string{
		"%2\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:3\r\n",
		"+OK\r\n",
		"$5\r\nalice\r\n",
		"%1\r\n$4\r\nname\r\n$3\r\nbob\r\n",
		",1.5\r\n",
		"#f\r\n",
		"(1234567999999999999999999999999999\r\n",
		"=15\r\ntxt:This is a v\r\n",
		"|1\r\n$14\r\nkey-popularity\r\n*2\r\n$1\r\na\r\n,0.1923\r\n$34\r\nSome real reply following the attr\r\n",
		"~2\r\n$1\r\na\r\n$1\r\nb\r\n",
		"!21\r\nSYNTAX invalid syntax\r\n",
		"_\r\n",
		"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n",
		"+OK\r\n",
	}
	// A push arrives between two replies.
	push := pushMsg
	for i := range cmds {
		client += cmds[i]
		cmdEnds = append(cmdEnds, len(client))
		server += replies[i]
		replyEnds = append(replyEnds, len(server))
		if i == 4 {
			server += push
		}
	}
	return client, server, cmdEnds, replyEnds
}

const pushMsg = ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n"

const pushLen = len(pushMsg)

var conversationWant = []string{
	`HELLO "HELLO 3" key="" → (map) 2 entries`,
	`SET "SET user:1 alice" key="user:1" → OK`,
	`GET "GET user:1" key="user:1" → "alice"`,
	`HGETALL "HGETALL user:2" key="user:2" → (map) 1 entry`,
	`ZSCORE "ZSCORE z a" key="z" → (double) 1.5`,
	`- → (push) 2 elements`,
	`EXISTS "EXISTS a" key="a" → (false)`,
	`DEBUG "DEBUG PROTOCOL bignum" key="" → (big number) 1234567999999999999999999999999999`,
	`DEBUG "DEBUG PROTOCOL verbatim" key="" → "This is a v"`,
	`DEBUG "DEBUG PROTOCOL attrib" key="" → "Some real reply following the attr"`,
	`SMEMBERS "SMEMBERS s" key="s" → (set) 2 elements`,
	`INCR "INCR user:1" key="user:1" → (error) SYNTAX invalid syntax`,
	`GET "GET missing" key="missing" → (nil)`,
	`XREAD "XREAD STREAMS s 0" key="s" → (array) 1 element`,
	`SET "SET bin \\x00\\xff\\r\\n" key="bin" → OK`,
}

// feedSplit runs the conversation with the client stream cut at cc and the server
// stream at sc, interleaving sides by command.
func feedSplit(client, server string, cmdEnds, replyEnds []int, cc, sc int) []string {
	var c collector
	p := Dissector.NewParser(c.Emit)
	feed := func(side dissect.Side, s string, from, to, cut int) {
		if from < cut && cut < to {
			p.Feed(chunk(side, []byte(s[from:cut]), at(0)))
			p.Feed(chunk(side, []byte(s[cut:to]), at(0)))
		} else if from < to {
			p.Feed(chunk(side, []byte(s[from:to]), at(0)))
		}
	}
	cPrev, sPrev := 0, 0
	for i := range cmdEnds {
		feed(C, client, cPrev, cmdEnds[i], cc)
		end := replyEnds[i]
		if i+1 == len(cmdEnds) {
			end = len(server)
		}
		feed(S, server, sPrev, end, sc)
		cPrev, sPrev = cmdEnds[i], end
	}
	p.Close(at(1))
	return briefs(&c)
}

func TestConversationSplitEverywhere(t *testing.T) {
	client, server, cmdEnds, replyEnds := conversation()
	whole := feedSplit(client, server, cmdEnds, replyEnds, -1, -1)
	if !reflect.DeepEqual(whole, conversationWant) {
		t.Fatalf("entries:\n%s\nwant:\n%s", strings.Join(whole, "\n"), strings.Join(conversationWant, "\n"))
	}
	for cut := 0; cut <= len(client); cut++ {
		if got := feedSplit(client, server, cmdEnds, replyEnds, cut, -1); !reflect.DeepEqual(got, whole) {
			t.Fatalf("client cut at %d:\n%s", cut, strings.Join(got, "\n"))
		}
	}
	for cut := 0; cut <= len(server); cut++ {
		if got := feedSplit(client, server, cmdEnds, replyEnds, -1, cut); !reflect.DeepEqual(got, whole) {
			t.Fatalf("server cut at %d:\n%s", cut, strings.Join(got, "\n"))
		}
	}
	// Byte by byte, both sides.
	var c collector
	p := Dissector.NewParser(c.Emit)
	cPrev, sPrev := 0, 0
	for i := range cmdEnds {
		for ; cPrev < cmdEnds[i]; cPrev++ {
			p.Feed(chunk(C, []byte{client[cPrev]}, at(0)))
		}
		end := replyEnds[i]
		if i+1 == len(cmdEnds) {
			end = len(server)
		}
		for ; sPrev < end; sPrev++ {
			p.Feed(chunk(S, []byte{server[sPrev]}, at(0)))
		}
	}
	p.Close(at(1))
	if got := briefs(&c); !reflect.DeepEqual(got, whole) {
		t.Fatalf("byte by byte:\n%s", strings.Join(got, "\n"))
	}
	var req, resp int
	for _, e := range c.Entries {
		req += e.Redis.RequestSize
		resp += e.Redis.ResponseSize
	}
	if req != len(client) || resp != len(server) {
		t.Errorf("sizes %d/%d, want %d/%d", req, resp, len(client), len(server))
	}
}

// TestTruncation ends the stream at every prefix of each side and checks the partial
// entries: complete exchanges are intact, the one cut short is "truncated", the rest
// "no_response"; nothing panics.
func TestTruncation(t *testing.T) {
	client, server, cmdEnds, replyEnds := conversation()
	// Server prefixes, client complete.
	for n := 0; n <= len(server); n++ {
		c := run(step{C, client, 0}, step{S, server[:n], 1})
		if len(c.Entries) < len(cmdEnds) {
			t.Fatalf("server cut at %d: %d entries", n, len(c.Entries))
		}
		k := 0 // command index
		for _, e := range c.Entries {
			r := e.Redis
			if !r.HasRequest {
				continue // the push
			}
			start := 0
			if k > 0 {
				start = replyEnds[k-1]
			}
			if k == 5 {
				start += pushLen // the push precedes the reply to EXISTS
			}
			switch {
			case n >= replyEnds[k]:
				if e.ErrorType != "" || !r.HasResponse {
					t.Errorf("server cut at %d, command %d complete: %s", n, k, brief(e))
				}
			case n <= start:
				if e.ErrorType != ErrorTypeNoResponse || r.HasResponse {
					t.Errorf("server cut at %d, command %d not answered: %s", n, k, brief(e))
				}
			default:
				if e.ErrorType != ErrorTypeTruncated && e.ErrorType != ErrorTypeNoResponse {
					t.Errorf("server cut at %d, command %d cut: %s", n, k, brief(e))
				}
			}
			k++
		}
		if k != len(cmdEnds) {
			t.Errorf("server cut at %d: %d commands", n, k)
		}
	}
	// Client prefixes alone: complete commands, then possibly a truncated one.
	for n := 0; n <= len(client); n++ {
		c := run(step{C, client[:n], 0})
		complete := 0
		for complete < len(cmdEnds) && cmdEnds[complete] <= n {
			complete++
		}
		got := c.Entries
		if len(got) < complete || len(got) > complete+1 {
			t.Fatalf("client cut at %d: %d entries for %d complete commands", n, len(got), complete)
		}
		for i, e := range got {
			want := ErrorTypeNoResponse
			if i == complete {
				want = ErrorTypeTruncated
			}
			if e.ErrorType != want || !e.Redis.HasRequest || e.Redis.Type == "" {
				t.Errorf("client cut at %d, entry %d: %s", n, i, brief(e))
			}
		}
	}
}

func TestGaps(t *testing.T) {
	gap := func(side dissect.Side, data string, ms int) step { return step{side, "\x00gap\x00" + data, ms} }
	runGaps := func(steps ...step) []string {
		var c collector
		p := Dissector.NewParser(c.Emit)
		for _, s := range steps {
			ch := chunk(s.side, []byte(s.data), at(s.ms))
			if rest, ok := strings.CutPrefix(s.data, "\x00gap\x00"); ok {
				ch.Data, ch.Skipped = []byte(rest), -1
			}
			p.Feed(ch)
		}
		p.Close(at(100))
		return briefs(&c)
	}
	tests := []struct {
		name  string
		steps []step
		want  []string
	}{{
		name: "client gap mid-command: resync at the next multibulk; replies before it are orphans",
		steps: []step{
			{C, cmd("GET", "a"), 0}, {S, "$1\r\n1\r\n", 1},
			{C, "*2\r\n$3\r\nGET\r\n$1\r\n", 2},
			gap(C, "\r\n"+cmd("INCR", "b"), 3), // "b\r\n" of the GET lost, then INCR
			{S, "$1\r\n2\r\n", 4},              // the lost GET's reply
			{S, ":3\r\n", 5},
		},
		want: []string{
			`GET "GET a" key="a" → "1"`,
			`INCR "INCR b" key="b" → "2"`, // ambiguous: the marker is dropped once a newer command waits
			`- → (integer) 3 [no_request]`,
		},
	}, {
		name: "client gap before replies arrive",
		steps: []step{
			{C, cmd("SET", "a", "1"), 0},
			gap(C, "xx\r\n$1\r\nz\r\n", 1), // the tail of a lost command
			{S, "+OK\r\n", 2},
			{S, "$1\r\nz\r\n", 3},
			{C, cmd("GET", "c"), 4}, {S, "$-1\r\n", 5},
		},
		want: []string{
			`SET "SET a 1" key="a" → OK`,
			`- → "z" [no_request]`,
			`GET "GET c" key="c" → (nil)`,
		},
	}, {
		name: "server gap: pending commands are given up, resync at the next reply",
		steps: []step{
			{C, cmd("GET", "a") + cmd("GET", "b"), 0},
			{S, "$3\r\nxy", 1},
			gap(S, "z\r\n$1\r\nq\r\n", 2),
			{C, cmd("PING"), 3}, {S, "+PONG\r\n", 4},
		},
		want: []string{
			`GET "GET a" key="a" → none [no_response]`,
			`GET "GET b" key="b" → none [no_response]`,
			`- → "q" [no_request]`,
			`PING "PING" key="" → PONG`,
		},
	}, {
		name: "client gap, then commands without replies",
		steps: []step{
			gap(C, "x\r\n"+cmd("CLIENT", "REPLY", "OFF")+cmd("SET", "a", "1"), 0),
			{S, "+OK\r\n", 1},
		},
		want: []string{
			`CLIENT "CLIENT REPLY OFF" key="" → none`,
			`SET "SET a 1" key="a" → none`,
			`- → OK [no_request]`,
		},
	}, {
		name: "garbage from the server",
		steps: []step{
			{C, cmd("GET", "a"), 0}, {S, "?what\r\n", 1},
			{C, cmd("GET", "b"), 2}, {S, "$1\r\nb\r\n", 3},
		},
		want: []string{
			`GET "GET a" key="a" → none [no_response]`,
			`GET "GET b" key="b" → "b"`,
		},
	}, {
		name: "garbage from the client (Redis answers with an error)",
		steps: []step{
			{C, cmd("PING"), 0}, {S, "+PONG\r\n", 1},
			{C, "*2\r\n:1\r\n", 2}, {S, "-ERR Protocol error: expected '$', got ':'\r\n", 3},
			{C, cmd("PING"), 4}, {S, "+PONG\r\n", 5},
		},
		want: []string{
			`PING "PING" key="" → PONG`,
			`- → (error) ERR Protocol error: expected '$', got ':' [no_request]`,
			`PING "PING" key="" → PONG`,
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := runGaps(tt.steps...); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestBoundedMemory streams a 16 MiB value each way in 4 KiB chunks and checks that
// the decoders keep at most keepBulk bytes of it.
func TestBoundedMemory(t *testing.T) {
	const size = 16 << 20
	var c collector
	p := Dissector.NewParser(c.Emit).(*parser)
	block := []byte(strings.Repeat("v", 4096))
	feedBulk := func(side dissect.Side, header string) {
		p.Feed(chunk(side, []byte(header), at(0)))
		for sent := 0; sent < size; sent += len(block) {
			p.Feed(chunk(side, block, at(0)))
			d := &p.dec[side]
			if len(d.v.text) > keepBulk || len(d.v.arena) > maxArena+keyedArgs*keyPrefix || len(d.line) > keepLine {
				t.Fatalf("side %v keeps %d/%d/%d bytes", side, len(d.v.text), len(d.v.arena), len(d.line))
			}
		}
		p.Feed(chunk(side, []byte("\r\n"), at(0)))
	}
	feedBulk(C, fmt.Sprintf("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%d\r\n", size))
	p.Feed(chunk(S, []byte("+OK\r\n"), at(1)))
	p.Feed(chunk(C, []byte(cmd("GET", "big")), at(2)))
	feedBulk(S, fmt.Sprintf("$%d\r\n", size))
	p.Close(at(3))
	if len(c.Entries) != 2 {
		t.Fatalf("%d entries", len(c.Entries))
	}
	set, get := c.Entries[0].Redis, c.Entries[1].Redis
	if set.RequestSize != size+len(fmt.Sprint(size))+27 || !strings.HasSuffix(set.Command, "...") || len(set.Command) > maxCommand {
		t.Errorf("SET size %d, command %d bytes", set.RequestSize, len(set.Command))
	}
	if get.ResponseSize != size+len(fmt.Sprint(size))+5 || get.Reply != `"`+strings.Repeat("v", maxReplyText)+`"...` {
		t.Errorf("GET size %d, reply %q", get.ResponseSize, get.Reply)
	}
}

func TestLimits(t *testing.T) {
	// Nesting deeper than maxDepth is a protocol error: the pending command is given
	// up and the next exchange pairs again.
	deep := strings.Repeat("*1\r\n", maxDepth+1) + ":1\r\n"
	got := briefs(run(
		step{C, cmd("GET", "a"), 0}, step{S, deep, 1},
		step{C, cmd("GET", "b"), 2}, step{S, ":2\r\n", 3},
	))
	want := []string{`GET "GET a" key="a" → none [no_response]`, `- → (integer) 1 [no_request]`, `GET "GET b" key="b" → (integer) 2`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("deep nesting:\n%s", strings.Join(got, "\n"))
	}
	ok := strings.Repeat("*1\r\n", maxDepth-1) + ":1\r\n"
	if got := briefs(run(step{C, cmd("GET", "a"), 0}, step{S, ok, 1})); len(got) != 1 || got[0] != `GET "GET a" key="a" → (array) 1 element` {
		t.Errorf("nesting at the limit: %q", got)
	}

	// An aggregate announcing 2^31 elements is accepted and costs nothing until they come.
	if got := briefs(run(step{C, cmd("KEYS", "*"), 0}, step{S, "*2147483648\r\n$1\r\na\r\n", 1})); len(got) != 1 ||
		got[0] != `KEYS "KEYS *" key="" → (array) 2147483648 elements [truncated]` {
		t.Errorf("huge count: %q", got)
	}
	if got := briefs(run(step{C, cmd("KEYS", "*"), 0}, step{S, "*2147483649\r\n", 1})); len(got) != 1 ||
		got[0] != `KEYS "KEYS *" key="" → none [no_response]` {
		t.Errorf("count over the limit: %q", got)
	}

	// More than maxPending pipelined commands: the oldest are emitted without reply
	// and their replies skipped, so pairing stays aligned.
	var b strings.Builder
	var r strings.Builder
	for i := 0; i < maxPending+3; i++ {
		b.WriteString(cmd("INCR", fmt.Sprint(i)))
		fmt.Fprintf(&r, ":%d\r\n", i)
	}
	c := run(step{C, b.String(), 0}, step{S, r.String(), 1})
	if len(c.Entries) != maxPending+3 {
		t.Fatalf("%d entries", len(c.Entries))
	}
	for i, e := range c.Entries {
		want := fmt.Sprintf("INCR %q key=%q → (integer) %d", "INCR "+fmt.Sprint(i), fmt.Sprint(i), i)
		if i < 3 {
			want = fmt.Sprintf("INCR %q key=%q → none [no_response]", "INCR "+fmt.Sprint(i), fmt.Sprint(i))
		}
		if got := brief(e); got != want {
			t.Errorf("entry %d: %s, want %s", i, got, want)
		}
	}
}
