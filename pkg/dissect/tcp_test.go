package dissect

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

// recorder is a dissector that takes every stream and records what it is fed: the
// bytes of each side, the gaps, and the order of the chunks across sides.
type recorder struct{ fed *recording }

type recording struct {
	data   [2]bytes.Buffer
	skips  [2][]int
	order  strings.Builder // "A" or "B" per chunk, in feeding order
	times  []time.Time     // Time(0) of each chunk
	closed int
}

func (recorder) Protocol() string                      { return "REC" }
func (recorder) Probe(Side, []byte, [2]uint16) Verdict { return Match }
func (r recorder) NewParser(Emit) StreamParser         { return r }
func (r recorder) Close(time.Time)                     { r.fed.closed++ }
func (r recorder) Feed(c Chunk) {
	r.fed.data[c.Side].Write(c.Data)
	if c.Skipped != 0 {
		r.fed.skips[c.Side] = append(r.fed.skips[c.Side], c.Skipped)
	}
	r.fed.order.WriteString([]string{"A", "B"}[c.Side])
	r.fed.times = append(r.fed.times, c.Time(0))
}

// refuser is a dissector that wants no stream.
type refuser struct{}

func (refuser) Protocol() string                      { return "NO" }
func (refuser) Probe(Side, []byte, [2]uint16) Verdict { return NoMatch }
func (refuser) NewParser(Emit) StreamParser           { panic("refuser never matches") }

// conn builds the segments of one connection: c(seq, payload) from the client,
// s(seq, payload) from the server, sequence numbers relative to the ISNs.
type conn struct {
	b    *packetBuilder
	cisn uint32
	sisn uint32
	pkts []*Packet
}

func newConn(t *testing.T, cisn, sisn uint32) *conn {
	c := &conn{b: &packetBuilder{t: t, now: time.Unix(1700000000, 0)}, cisn: cisn, sisn: sisn}
	c.add(seg{src: cli, dst: srv, sport: 40000, dport: 80, seq: cisn, syn: true})
	c.add(seg{src: srv, dst: cli, sport: 80, dport: 40000, seq: sisn, ack: cisn + 1, syn: true, ackf: true})
	return c
}

func (c *conn) add(s seg) *conn { c.pkts = append(c.pkts, c.b.tcp(s)); return c }

func (c *conn) c(seq uint32, payload string, flags ...string) *conn {
	return c.add(c.mk(seg{src: cli, dst: srv, sport: 40000, dport: 80, seq: c.cisn + 1 + seq, ackf: true, payload: payload}, flags))
}

func (c *conn) s(seq uint32, payload string, flags ...string) *conn {
	return c.add(c.mk(seg{src: srv, dst: cli, sport: 80, dport: 40000, seq: c.sisn + 1 + seq, ackf: true, payload: payload}, flags))
}

func (c *conn) mk(s seg, flags []string) seg {
	for _, f := range flags {
		switch f {
		case "fin":
			s.fin = true
		case "rst":
			s.rst = true
		case "syn":
			s.syn = true
		case "late": // arrives 3 seconds after the previous packet
			s.advance = 3 * time.Second
		}
	}
	return s
}

func (c *conn) run(t *testing.T, cfg Config) (*recording, Stats, []*Entry) {
	t.Helper()
	rec := &recording{}
	if cfg.TCP == nil {
		cfg.TCP = []TCPDissector{recorder{rec}}
	}
	cfg.ConnRecords = true
	var entries []*Entry
	p := New(cfg, func(e *Entry) { entries = append(entries, e) })
	for _, pkt := range c.pkts {
		p.Packet(pkt)
	}
	p.Flush()
	return rec, p.Stats(), entries
}

func TestReassembly(t *testing.T) {
	for _, tt := range []struct {
		name       string
		cisn, sisn uint32
		build      func(c *conn)
		client     string // bytes fed for the client side
		server     string
		skips      [2][]int
		order      string // chunk order, when it matters
	}{
		{name: "in order", build: func(c *conn) { c.c(0, "GET ").c(4, "/\n").s(0, "200\n") },
			client: "GET /\n", server: "200\n"},
		{name: "reordered", build: func(c *conn) { c.c(4, "/\n").c(0, "GET ").s(0, "200\n") },
			client: "GET /\n", server: "200\n"},
		{name: "retransmission of delivered data", build: func(c *conn) { c.c(0, "abcd").c(0, "abcd").c(2, "cdef") },
			client: "abcdef"},
		{name: "keep-alive probe", build: func(c *conn) { c.c(0, "abcd").c(3, "x").c(4, "e") },
			client: "abcde"},
		{name: "held data: the newest copy wins", build: func(c *conn) { c.c(4, "xxxx").c(6, "YYYY").c(0, "abcd") },
			client: "abcdxxYYYY"},
		{name: "held data: new data inside held data", build: func(c *conn) { c.c(4, "xxxxxx").c(6, "YY").c(0, "abcd") },
			client: "abcdxxYYxx"},
		{name: "held data: new data covering several", build: func(c *conn) { c.c(4, "x").c(6, "y").c(3, "ZZZZZ").c(0, "abc") },
			client: "abcZZZZZ"},
		{name: "in-order data overtakes held data", build: func(c *conn) { c.c(4, "xxxxxx").c(0, "abcdefgh") },
			client: "abcdefghxx"},
		{name: "gap skipped after GapWait", build: func(c *conn) { c.c(0, "ab").c(5, "fg").s(0, "ok", "late") },
			client: "abfg", server: "ok", skips: [2][]int{{3}, nil}},
		{name: "gap skipped at the end of the input", build: func(c *conn) { c.c(0, "ab").c(5, "fg") },
			client: "abfg", skips: [2][]int{{3}, nil}},
		{name: "FIN ahead of the data", build: func(c *conn) { c.c(2, "cd", "fin").s(0, "x").c(0, "ab").c(4, "junk after FIN") },
			client: "abcd", server: "x"},
		{name: "out-of-order RST is ignored", build: func(c *conn) { c.c(0, "ab").c(5, "", "rst").c(2, "cd") },
			client: "abcd"},
		{name: "RST before the next byte is ignored", build: func(c *conn) { c.c(0, "ab").c(1, "", "rst").c(2, "cd") },
			client: "abcd"},
		{name: "RST ends the half", build: func(c *conn) { c.c(0, "ab").c(2, "", "rst").c(2, "cd") },
			client: "ab"},
		{name: "SYN on a synchronised half", build: func(c *conn) { c.c(0, "ab").c(2, "SYN DATA", "syn").c(2, "cd") },
			client: "abcd"},
		{name: "sequence numbers wrap", cisn: 0xfffffff0, sisn: 0xfffffffe, build: func(c *conn) {
			c.c(0, "0123456789abcdef").c(20, "klmn").c(16, "ghij").s(0, "server data")
		}, client: "0123456789abcdefghijklmn", server: "server data"},
		{name: "both sides flushed in capture order", build: func(c *conn) {
			c.c(0, "q1").s(3, "r1").c(5, "q2").s(6, "r2").c(8, "q3")
		}, client: "q1q2q3", server: "r1r2", skips: [2][]int{{3, 1}, {3, 1}}, order: "ABABA"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newConn(t, tt.cisn, tt.sisn)
			tt.build(c)
			rec, _, _ := c.run(t, Config{GapWait: time.Second})
			if got := rec.data[SideA].String(); got != tt.client {
				t.Errorf("client side fed %q, want %q", got, tt.client)
			}
			if got := rec.data[SideB].String(); got != tt.server {
				t.Errorf("server side fed %q, want %q", got, tt.server)
			}
			if fmt.Sprint(rec.skips) != fmt.Sprint(tt.skips) {
				t.Errorf("gaps %v, want %v", rec.skips, tt.skips)
			}
			if tt.order != "" && rec.order.String() != tt.order {
				t.Errorf("chunks fed in order %s, want %s", rec.order.String(), tt.order)
			}
			if rec.closed != 1 {
				t.Errorf("parser closed %d times", rec.closed)
			}
		})
	}
}

// Out-of-order data beyond the buffer limit makes reassembly skip the gap in front of
// it rather than hold more.
func TestReassemblyBufferLimit(t *testing.T) {
	c := newConn(t, 1000, 2000)
	c.c(0, "ab")
	chunk := strings.Repeat("x", 1000)
	for i := 0; i < 8; i++ {
		c.c(uint32(10+i*1000), chunk) // 8 pages after a gap of 8 bytes
	}
	rec, st, _ := c.run(t, Config{MaxBufferedPages: 16}) // 4 pages per direction
	if got := rec.data[SideA].Len(); got != 2+8000 {
		t.Errorf("fed %d bytes, want everything around the gap", got)
	}
	if len(rec.skips[SideA]) != 1 || rec.skips[SideA][0] != 8 || st.SkippedBytes != 8 {
		t.Errorf("gaps %v, skipped %d: want one gap of 8 bytes", rec.skips[SideA], st.SkippedBytes)
	}
	if len(rec.times) < 2 || !rec.times[1].Before(c.pkts[len(c.pkts)-1].Timestamp) {
		t.Errorf("the gap was skipped at the end, not when the buffer filled: chunk times %v", rec.times)
	}
}

// A stream no dissector wants is not copied, but its gaps still count.
func TestReassemblyUnwantedStream(t *testing.T) {
	c := newConn(t, 1000, 2000)
	c.c(0, "not a protocol anyone knows").s(0, "nor this").c(40, "after a gap").c(30, "0123456789")
	var entries []*Entry
	p := New(Config{TCP: []TCPDissector{refuser{}}, ConnRecords: true}, func(e *Entry) { entries = append(entries, e) })
	for i, pkt := range c.pkts {
		p.Packet(pkt)
		if i == 4 && p.heldPages != 0 {
			t.Errorf("%d pages held for a stream nobody dissects", p.heldPages)
		}
	}
	p.Flush()
	st := p.Stats()
	if st.ProbeGiveUps != 1 || st.SkippedBytes != 3 {
		t.Errorf("stats %+v: want one give-up and 3 bytes skipped", st)
	}
	if len(entries) != 1 || entries[0].Conn == nil || entries[0].Conn.MissingBytes != 3 {
		t.Fatalf("entries %v: want the connection record with 3 missing bytes", entries)
	}
}

// FuzzReassembly sends pieces of two byte streams, in any order, repeated, overlapping,
// with gaps and FINs, and checks what reaches the dissector: every byte is the one at
// its position in the stream (gaps reported as skipped counts move the position), and
// no buffered page is left behind.
func FuzzReassembly(f *testing.F) {
	f.Add([]byte{0, 10, 0, 1, 10, 0, 0, 10, 10, 1, 5, 20}, uint32(1000), uint8(4))
	f.Add([]byte{0, 50, 30, 0, 10, 0, 0, 20, 0, 1, 255, 0, 0, 255, 200}, uint32(0xfffffff0), uint8(1))
	f.Fuzz(func(t *testing.T, plan []byte, isn uint32, pages uint8) {
		stream := func(side Side, i uint32) byte { return byte(i*7 + uint32(side)*13) }
		c := newConn(t, isn, isn^0x5a5a5a5a)
		for len(plan) >= 3 {
			side, off, n := plan[0], uint32(plan[1])*3, uint32(plan[2])
			plan = plan[3:]
			data := make([]byte, n)
			from := Side(side & 1)
			for i := range data {
				data[i] = stream(from, off+uint32(i))
			}
			var flags []string
			if side&2 != 0 {
				flags = append(flags, "late")
			}
			if side&4 != 0 && n == 0 {
				flags = append(flags, "fin")
			}
			if from == SideA {
				c.c(off, string(data), flags...)
			} else {
				c.s(off, string(data), flags...)
			}
		}
		rec := &fuzzRecorder{stream: stream, t: t, later: new(bool)}
		p := New(Config{TCP: []TCPDissector{rec}, GapWait: time.Second, MaxBufferedPages: int(pages), ConnRecords: true},
			func(e *Entry) {
				// The connection was finalized: if it is seen again, that is a new
				// stream that begins at an unknown position, not checked.
				*rec.later = *rec.later || e.Conn != nil
			})
		for _, pkt := range c.pkts {
			p.Packet(pkt)
		}
		p.Flush()
		if p.heldPages != 0 || len(p.holding) != 0 {
			t.Fatalf("after Flush: %d pages held by %d streams", p.heldPages, len(p.holding))
		}
	})
}

type fuzzRecorder struct {
	stream    func(Side, uint32) byte
	pos       [2]uint32
	t         *testing.T
	later     *bool // a second stream exists
	unchecked bool
}

func (*fuzzRecorder) Protocol() string                      { return "FUZZ" }
func (*fuzzRecorder) Probe(Side, []byte, [2]uint16) Verdict { return Match }
func (r *fuzzRecorder) NewParser(Emit) StreamParser {
	return &fuzzRecorder{stream: r.stream, t: r.t, unchecked: *r.later}
}
func (r *fuzzRecorder) Close(time.Time) {}
func (r *fuzzRecorder) Feed(c Chunk) {
	if r.unchecked {
		return
	}
	if c.Skipped < 0 {
		r.t.Fatalf("unknown gap")
	}
	r.pos[c.Side] += uint32(c.Skipped)
	for i, b := range c.Data {
		if want := r.stream(c.Side, r.pos[c.Side]+uint32(i)); b != want {
			r.t.Fatalf("side %d byte %d: got %d, want %d", c.Side, r.pos[c.Side]+uint32(i), b, want)
		}
	}
	r.pos[c.Side] += uint32(len(c.Data))
}
