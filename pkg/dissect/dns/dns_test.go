package dns

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
)

func query(id uint16, name string, qtype uint16) []byte {
	return newMsg(id, 0x0100, 1, 0, 0, 0).question(name, qtype).b
}

func responseA(id uint16, name string, rcode uint16, addrs ...[4]byte) []byte {
	m := newMsg(id, 0x8180|rcode, 1, uint16(len(addrs)), 0, 0).question(name, typeA)
	for _, a := range addrs {
		m.ptr(12).u16(typeA).u16(1).u32(30).u16(4).raw(a[:]...)
	}
	return m.b
}

func TestUDPProbe(t *testing.T) {
	q := query(1, "a.test", typeA)
	tests := []struct {
		name    string
		payload []byte
		ports   [2]uint16
		want    bool
	}{
		{"query to port 53", q, [2]uint16{40000, 53}, true},
		{"response from port 53", responseA(1, "a.test", 0, [4]byte{1, 2, 3, 4}), [2]uint16{53, 40000}, true},
		{"mDNS", q, [2]uint16{5353, 5353}, true},
		{"LLMNR", q, [2]uint16{5355, 40000}, true},
		{"query on another port", q, [2]uint16{40000, 1053}, true},
		{"short datagram on port 53", q[:11], [2]uint16{40000, 53}, false},
		{"bad opcode on port 53", newMsg(1, 3<<11, 1, 0, 0, 0).question("a.test", 1).b, [2]uint16{40000, 53}, false},
		{"trailing bytes away from port 53", append(query(1, "a.test", typeA), 0), [2]uint16{40000, 1053}, false},
		{"two questions away from port 53", newMsg(1, 0x100, 2, 0, 0, 0).question("a.test", 1).question("b.test", 1).b, [2]uint16{40000, 1053}, false},
		{"query with answers away from port 53", newMsg(1, 0x100, 1, 1, 0, 0).question("a.test", 1).rr("a", 1, 1, []byte{1, 2, 3, 4}).b, [2]uint16{40000, 1053}, false},
		{"odd class away from port 53", newMsg(1, 0x100, 1, 0, 0, 0).name("a.test").u16(1).u16(77).b, [2]uint16{40000, 1053}, false},
		{"QUIC-like bytes", []byte{0xc3, 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0x44, 0xd0}, [2]uint16{40000, 443}, false},
		{"empty", nil, [2]uint16{40000, 53}, false},
	}
	for _, tt := range tests {
		if got := UDP.Probe(dissect.SideA, tt.payload, tt.ports); got != tt.want {
			t.Errorf("%s: Probe = %v, want %v", tt.name, got, tt.want)
		}
	}
	if UDP.Protocol() != dissect.ProtoDNS || TCP.Protocol() != dissect.ProtoDNS {
		t.Errorf("Protocol() = %q/%q", UDP.Protocol(), TCP.Protocol())
	}
}

func TestTCPProbe(t *testing.T) {
	f := frame(query(1, "a.test", typeA))
	tests := []struct {
		name  string
		data  []byte
		ports [2]uint16
		want  dissect.Verdict
	}{
		{"one byte", f[:1], [2]uint16{40000, 53}, dissect.NeedMore},
		{"length only", f[:2], [2]uint16{40000, 53}, dissect.NeedMore},
		{"header on port 53", f[:14], [2]uint16{40000, 53}, dissect.Match},
		{"length too small", []byte{0, 5, 1, 2, 3, 4, 5}, [2]uint16{40000, 53}, dissect.NoMatch},
		{"partial away from port 53", f[:20], [2]uint16{40000, 8053}, dissect.NeedMore},
		{"complete away from port 53", f, [2]uint16{40000, 8053}, dissect.Match},
		{"garbage away from port 53", frame([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")), [2]uint16{40000, 8053}, dissect.NoMatch},
		{"HTTP request", []byte("GET / HTTP/1.1\r\n"), [2]uint16{40000, 80}, dissect.NoMatch},
		{"TLS hello", []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0, 1, 0xfc, 3, 3, 0, 0, 0}, [2]uint16{40000, 443}, dissect.NoMatch},
		{"redis command", []byte("*1\r\n$4\r\nPING\r\n"), [2]uint16{40000, 6379}, dissect.NoMatch},
	}
	for _, tt := range tests {
		if got := TCP.Probe(dissect.SideA, tt.data, tt.ports); got != tt.want {
			t.Errorf("%s: Probe = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// summary is the part of an entry the pairing tests compare.
type summary struct {
	Client      dissect.Side
	ID          uint16
	Questions   string
	Answers     string
	RCode       string
	Req, Resp   bool
	ReqLen      int
	RespLen     int
	Timestamp   time.Time
	Elapsed     time.Duration
	ErrorType   string
	QuestionTyp string
}

func summarize(c *collector) []summary {
	var out []summary
	for i, e := range c.Entries {
		d := e.DNS
		if e.Protocol != dissect.ProtoDNS || d == nil {
			panic("not a DNS entry")
		}
		out = append(out, summary{
			Client: c.Clients[i], ID: d.TransactionID,
			Questions: fmt.Sprint(d.Questions), Answers: fmt.Sprint(d.Answers), RCode: d.RCodeName,
			Req: d.HasRequest, Resp: d.HasResponse, ReqLen: d.RequestLength, RespLen: d.ResponseLength,
			Timestamp: e.Timestamp, Elapsed: e.Elapsed, ErrorType: e.ErrorType,
			QuestionTyp: fmt.Sprint(d.QuestionTypes),
		})
	}
	return out
}

func TestUDPPairing(t *testing.T) {
	A, B := dissect.SideA, dissect.SideB
	type dg struct {
		side dissect.Side
		msg  []byte
		ms   int
	}
	q1 := query(1, "a.test", typeA)
	r1 := responseA(1, "a.test", 0, [4]byte{10, 0, 0, 1})
	q2 := query(2, "b.test", typeA)
	r2 := responseA(2, "b.test", 3)
	upper := query(3, "A.TeSt", typeA)
	r3 := responseA(3, "a.test", 0, [4]byte{10, 0, 0, 3})
	tests := []struct {
		name string
		in   []dg
		want []summary
	}{{
		name: "query and response",
		in:   []dg{{A, q1, 0}, {B, r1, 5}},
		want: []summary{{Client: A, ID: 1, Questions: "[a.test]", QuestionTyp: "[A]", Answers: "[10.0.0.1]", RCode: "NOERROR",
			Req: true, Resp: true, ReqLen: len(q1), RespLen: len(r1), Timestamp: at(0), Elapsed: 5 * time.Millisecond}},
	}, {
		name: "out of order responses, client is side B",
		in:   []dg{{B, q1, 0}, {B, q2, 1}, {A, r2, 3}, {A, r1, 4}},
		want: []summary{
			{Client: B, ID: 2, Questions: "[b.test]", QuestionTyp: "[A]", Answers: "[]", RCode: "NXDOMAIN", Req: true, Resp: true, ReqLen: len(q2), RespLen: len(r2), Timestamp: at(1), Elapsed: 2 * time.Millisecond},
			{Client: B, ID: 1, Questions: "[a.test]", QuestionTyp: "[A]", Answers: "[10.0.0.1]", RCode: "NOERROR", Req: true, Resp: true, ReqLen: len(q1), RespLen: len(r1), Timestamp: at(0), Elapsed: 4 * time.Millisecond},
		},
	}, {
		name: "case-insensitive question match",
		in:   []dg{{A, upper, 0}, {B, r3, 1}},
		want: []summary{{Client: A, ID: 3, Questions: "[A.TeSt]", QuestionTyp: "[A]", Answers: "[10.0.0.3]", RCode: "NOERROR", Req: true, Resp: true, ReqLen: len(upper), RespLen: len(r3), Timestamp: at(0), Elapsed: time.Millisecond}},
	}, {
		name: "response without query",
		in:   []dg{{B, r1, 7}},
		want: []summary{{Client: A, ID: 1, Questions: "[a.test]", QuestionTyp: "[A]", Answers: "[10.0.0.1]", RCode: "NOERROR", Resp: true, RespLen: len(r1), Timestamp: at(7), ErrorType: ErrorTypeNoRequest}},
	}, {
		name: "response with same ID but other question does not pair",
		in:   []dg{{A, q2, 0}, {B, responseA(2, "evil.test", 0, [4]byte{6, 6, 6, 6}), 1}},
		want: []summary{
			{Client: A, ID: 2, Questions: "[evil.test]", QuestionTyp: "[A]", Answers: "[6.6.6.6]", RCode: "NOERROR", Resp: true, RespLen: 43, Timestamp: at(1), ErrorType: ErrorTypeNoRequest},
			{Client: A, ID: 2, Questions: "[b.test]", QuestionTyp: "[A]", Answers: "[]", Req: true, ReqLen: len(q2), Timestamp: at(0), ErrorType: ErrorTypeNoResponse},
		},
	}, {
		name: "retransmission ends the first exchange",
		in:   []dg{{A, q1, 0}, {A, q1, 1000}, {B, r1, 1001}},
		want: []summary{
			{Client: A, ID: 1, Questions: "[a.test]", QuestionTyp: "[A]", Answers: "[]", Req: true, ReqLen: len(q1), Timestamp: at(0), ErrorType: ErrorTypeNoResponse},
			{Client: A, ID: 1, Questions: "[a.test]", QuestionTyp: "[A]", Answers: "[10.0.0.1]", RCode: "NOERROR", Req: true, Resp: true, ReqLen: len(q1), RespLen: len(r1), Timestamp: at(1000), Elapsed: time.Millisecond},
		},
	}, {
		name: "query expires after the timeout",
		in:   []dg{{A, q1, 0}, {A, q2, 10001}, {B, r2, 10002}},
		want: []summary{
			{Client: A, ID: 1, Questions: "[a.test]", QuestionTyp: "[A]", Answers: "[]", Req: true, ReqLen: len(q1), Timestamp: at(0), ErrorType: ErrorTypeNoResponse},
			{Client: A, ID: 2, Questions: "[b.test]", QuestionTyp: "[A]", Answers: "[]", RCode: "NXDOMAIN", Req: true, Resp: true, ReqLen: len(q2), RespLen: len(r2), Timestamp: at(10001), Elapsed: time.Millisecond},
		},
	}, {
		name: "a response from the querying side does not answer it",
		in:   []dg{{A, q1, 0}, {A, r1, 1}},
		want: []summary{
			{Client: B, ID: 1, Questions: "[a.test]", QuestionTyp: "[A]", Answers: "[10.0.0.1]", RCode: "NOERROR", Resp: true, RespLen: len(r1), Timestamp: at(1), ErrorType: ErrorTypeNoRequest},
			{Client: A, ID: 1, Questions: "[a.test]", QuestionTyp: "[A]", Answers: "[]", Req: true, ReqLen: len(q1), Timestamp: at(0), ErrorType: ErrorTypeNoResponse},
		},
	}, {
		name: "datagrams shorter than a header are ignored",
		in:   []dg{{A, q1[:11], 0}, {B, []byte{}, 1}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c collector
			p := UDP.NewParser(c.Emit)
			for _, d := range tt.in {
				p.Datagram(d.side, d.msg, at(d.ms), 0)
			}
			p.Close(at(20000))
			if got := summarize(&c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("entries:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestUDPPendingBound(t *testing.T) {
	var c collector
	p := UDP.NewParser(c.Emit)
	for i := 0; i < maxPending+10; i++ {
		p.Datagram(dissect.SideA, query(uint16(i), "a.test", typeA), at(0), 0)
	}
	if len(c.Entries) != 10 {
		t.Fatalf("%d entries emitted before close, want 10", len(c.Entries))
	}
	for i, e := range c.Entries {
		if e.DNS.TransactionID != uint16(i) || e.ErrorType != ErrorTypeNoResponse {
			t.Errorf("entry %d: id %d error %q", i, e.DNS.TransactionID, e.ErrorType)
		}
	}
	p.Close(at(1))
	if len(c.Entries) != maxPending+10 {
		t.Errorf("%d entries after close", len(c.Entries))
	}
}

// tcpConversation is a client/server exchange over one TCP connection: three queries
// pipelined by the client, answered out of order.
func tcpConversation() (client, server []byte) {
	client = append(client, frame(query(10, "a.test", typeA))...)
	client = append(client, frame(query(11, "b.test", typeA))...)
	client = append(client, frame(query(12, "c.test", typeAAAA))...)
	server = append(server, frame(responseA(11, "b.test", 3))...)
	server = append(server, frame(responseA(10, "a.test", 0, [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}))...)
	server = append(server, frame(newMsg(12, 0x8182, 1, 0, 0, 0).question("c.test", typeAAAA).b)...)
	return client, server
}

func runTCP(t testing.TB, chunks []dissect.Chunk) []summary {
	var c collector
	p := TCP.NewParser(c.Emit)
	for _, ch := range chunks {
		p.Feed(ch)
	}
	p.Close(at(100))
	return summarize(&c)
}

func TestTCPFraming(t *testing.T) {
	client, server := tcpConversation()
	whole := runTCP(t, []dissect.Chunk{chunk(dissect.SideA, client, at(0)), chunk(dissect.SideB, server, at(1))})
	want := []string{"11 [b.test] NXDOMAIN", "10 [a.test] NOERROR [10.0.0.1 10.0.0.2]", "12 [c.test] SERVFAIL"}
	if len(whole) != len(want) {
		t.Fatalf("got %d entries: %+v", len(whole), whole)
	}
	for i, s := range whole {
		got := fmt.Sprintf("%d %s %s", s.ID, s.Questions, s.RCode)
		if s.Answers != "[]" {
			got += " " + s.Answers
		}
		if got != want[i] || !s.Req || !s.Resp || s.ErrorType != "" || s.Client != dissect.SideA || s.Elapsed != time.Millisecond {
			t.Errorf("entry %d = %+v, want %s", i, s, want[i])
		}
	}

	// Splitting either side at every byte boundary, and delivering byte by byte,
	// gives the same entries.
	for _, side := range []dissect.Side{dissect.SideA, dissect.SideB} {
		data := [2][]byte{client, server}[side]
		for cut := 0; cut <= len(data); cut++ {
			var chunks []dissect.Chunk
			if side == dissect.SideB {
				chunks = append(chunks, chunk(dissect.SideA, client, at(0)))
			}
			chunks = append(chunks, chunk(side, data[:cut], at(int(side))), chunk(side, data[cut:], at(int(side))))
			if side == dissect.SideA {
				chunks = append(chunks, chunk(dissect.SideB, server, at(1)))
			}
			if got := runTCP(t, chunks); !reflect.DeepEqual(got, whole) {
				t.Fatalf("side %d split at %d:\n got %+v\nwant %+v", side, cut, got, whole)
			}
		}
	}
	var bytewise []dissect.Chunk
	for i := range client {
		bytewise = append(bytewise, chunk(dissect.SideA, client[i:i+1], at(0)))
	}
	for i := range server {
		bytewise = append(bytewise, chunk(dissect.SideB, server[i:i+1], at(1)))
	}
	if got := runTCP(t, bytewise); !reflect.DeepEqual(got, whole) {
		t.Errorf("byte by byte:\n got %+v\nwant %+v", got, whole)
	}
}

func TestTCPMessageTimes(t *testing.T) {
	// Two messages in one chunk take the time of the packet holding their first byte.
	q1, q2 := frame(query(1, "a.test", typeA)), frame(query(2, "b.test", typeA))
	data := append(append([]byte{}, q1...), q2...)
	ch := dissect.Chunk{Side: dissect.SideA, Data: data, Time: func(off int) time.Time {
		if off < len(q1) {
			return at(1)
		}
		return at(2)
	}}
	got := runTCP(t, []dissect.Chunk{ch})
	if len(got) != 2 || !got[0].Timestamp.Equal(at(1)) || !got[1].Timestamp.Equal(at(2)) {
		t.Errorf("entries %+v", got)
	}
	// A message completed by a later chunk keeps the time of its first byte.
	got = runTCP(t, []dissect.Chunk{chunk(dissect.SideA, q1[:5], at(3)), chunk(dissect.SideA, q1[5:], at(4))})
	if len(got) != 1 || !got[0].Timestamp.Equal(at(3)) {
		t.Errorf("entries %+v", got)
	}
}

func TestTCPGapResync(t *testing.T) {
	client, server := tcpConversation()
	f1 := len(frame(query(10, "a.test", typeA)))
	tests := []struct {
		name   string
		chunks []dissect.Chunk
		want   []string // id, question, request/response flags, error type
	}{{
		name: "gap swallows the first query: resync at the next length prefix",
		chunks: []dissect.Chunk{
			{Side: dissect.SideA, Data: client[f1+3:], Skipped: f1 + 3, Time: func(int) time.Time { return at(0) }},
			chunk(dissect.SideB, server, at(1)),
		},
		want: []string{
			"11 [b.test] req=false resp=true no_request",
			"10 [a.test] req=false resp=true no_request",
			"12 [c.test] req=true resp=true ",
		},
	}, {
		name: "gap of unknown size in the server stream",
		chunks: []dissect.Chunk{
			chunk(dissect.SideA, client, at(0)),
			chunk(dissect.SideB, server[:10], at(1)),
			{Side: dissect.SideB, Data: server[26:], Skipped: -1, Time: func(int) time.Time { return at(2) }},
		},
		want: []string{
			"10 [a.test] req=true resp=true ",
			"12 [c.test] req=true resp=true ",
			"11 [b.test] req=true resp=false no_response",
		},
	}, {
		name: "bad length prefix then resync",
		chunks: []dissect.Chunk{
			chunk(dissect.SideA, append([]byte{0, 3, 'x', 'y', 'z'}, client...), at(0)),
			chunk(dissect.SideB, server, at(1)),
		},
		want: []string{
			"11 [b.test] req=true resp=true ",
			"10 [a.test] req=true resp=true ",
			"12 [c.test] req=true resp=true ",
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, s := range runTCP(t, tt.chunks) {
				got = append(got, fmt.Sprintf("%d %s req=%v resp=%v %s", s.ID, s.Questions, s.Req, s.Resp, s.ErrorType))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("entries:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestTruncation feeds every prefix of a real query and response (UDP: a cut
// datagram; TCP: the stream ends mid-message) and checks the partial entries.
func TestTruncation(t *testing.T) {
	q := l4Payload(t, fromTcpdumpX(t, udpQueryAlias))
	r := l4Payload(t, fromTcpdumpX(t, udpResponseAlias))
	for n := 0; n <= len(r); n++ {
		// UDP: full query, response cut to n bytes.
		var c collector
		p := UDP.NewParser(c.Emit)
		p.Datagram(dissect.SideA, q, at(0), 0)
		p.Datagram(dissect.SideB, r[:n], at(1), 0)
		p.Close(at(2))
		if len(c.Entries) != 1 {
			t.Fatalf("udp response cut at %d: %d entries", n, len(c.Entries))
		}
		e := c.Entries[0]
		d := e.DNS
		switch {
		case n < headerLen:
			if d.HasResponse || e.ErrorType != ErrorTypeNoResponse {
				t.Errorf("udp response cut at %d: %+v %q", n, d, e.ErrorType)
			}
		case n < len(r):
			// The EDNS OPT record is the last 11 bytes: before it, every cut loses a record.
			if !d.HasResponse || e.ErrorType != ErrorTypeTruncated || d.TransactionID != 56647 || d.ResponseLength != n {
				t.Errorf("udp response cut at %d: %+v %q", n, d, e.ErrorType)
			}
			if len(d.Answers) > 2 || (n >= 75 && len(d.Answers) != 2) {
				t.Errorf("udp response cut at %d: answers %q", n, d.Answers)
			}
		default:
			if e.ErrorType != "" || len(d.Answers) != 2 {
				t.Errorf("whole response: %+v %q", d, e.ErrorType)
			}
		}

		// TCP: the stream ends n bytes into the framed query.
		fq := frame(q)
		if n > len(fq) {
			continue
		}
		var tc collector
		tp := TCP.NewParser(tc.Emit)
		tp.Feed(chunk(dissect.SideA, fq[:n], at(0)))
		tp.Close(at(1))
		switch {
		case n < 2+headerLen:
			if len(tc.Entries) != 0 {
				t.Errorf("tcp query cut at %d: %d entries", n, len(tc.Entries))
			}
		case n < len(fq):
			if len(tc.Entries) != 1 || tc.Entries[0].ErrorType != ErrorTypeTruncated || !tc.Entries[0].DNS.HasRequest {
				t.Errorf("tcp query cut at %d: %+v", n, tc.Entries)
			}
		default:
			if len(tc.Entries) != 1 || tc.Entries[0].ErrorType != ErrorTypeNoResponse {
				t.Errorf("tcp whole query: %+v", tc.Entries)
			}
		}
	}
	// Every prefix of the framed response, in every chunking, never panics.
	fr := frame(r)
	for n := 0; n <= len(fr); n++ {
		for cut := 0; cut <= n; cut++ {
			var c collector
			p := TCP.NewParser(c.Emit)
			p.Feed(chunk(dissect.SideB, fr[:cut], at(0)))
			p.Feed(chunk(dissect.SideB, fr[cut:n], at(0)))
			p.Close(at(1))
		}
	}
}
