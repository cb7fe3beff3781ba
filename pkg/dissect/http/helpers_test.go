package http_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect/http"
)

const (
	A = dissect.SideA
	B = dissect.SideB
)

// chunk is one Feed call of a test script.
type chunk struct {
	side    dissect.Side
	data    string
	skipped int
}

// t0 is the capture time of the first byte of every script; byte i of a script (both
// sides counted, in feeding order) was captured i milliseconds later, so timestamps
// do not depend on how the bytes are split into chunks.
var t0 = time.Date(2026, 3, 14, 22, 0, 0, 0, time.UTC)

// at returns the capture time of script byte i.
func at(i int) time.Time { return t0.Add(time.Duration(i) * time.Millisecond) }

// ifaceOf is the capture interface tests give a side's chunks (1 for A, 2 for B), to
// check that entries take the interface of the request.
func ifaceOf(s dissect.Side) int { return int(s) + 1 }

// result is what a parser emitted.
type result struct {
	entries []*dissect.Entry
	clients []dissect.Side
	stalls  uint64
}

// scriptClock serves Chunk.Time for the chunk being fed: one value per run, so that
// feeding allocates nothing per chunk (the parser may only call Time during Feed).
type scriptClock struct {
	t         testing.TB
	base, len int
}

func (c *scriptClock) at(off int) time.Time {
	if off < 0 || off >= c.len {
		c.t.Errorf("Chunk.Time(%d) called on a %d-byte chunk", off, c.len)
	}
	return at(c.base + off)
}

// run feeds chunks to a new parser (with lim) and closes it.
func run(t testing.TB, lim http.Limits, chunks []chunk) result {
	var r result
	p := http.NewParser(func(e *dissect.Entry, client dissect.Side) {
		r.entries = append(r.entries, e)
		r.clients = append(r.clients, client)
	}, lim)
	clock := &scriptClock{t: t}
	timeAt := clock.at
	var buf []byte
	for _, c := range chunks {
		buf = append(buf[:0], c.data...)
		clock.len = len(c.data)
		p.Feed(dissect.Chunk{Side: c.side, Data: buf, Skipped: c.skipped, Interface: ifaceOf(c.side), Time: timeAt})
		clock.base += len(c.data)
	}
	p.Close(at(clock.base))
	r.stalls = http.Stalls(p)
	if r.stalls != 0 {
		t.Errorf("parser stalled %d times", r.stalls)
	}
	return r
}

// describe renders an entry compactly:
// "GET /a -> 200 OK req=40+0 resp=60+5 client=A !truncated".
func describe(e *dissect.Entry, client dissect.Side) string {
	h := e.HTTP
	if h == nil {
		return "no HTTP payload"
	}
	var b strings.Builder
	if h.HasRequest {
		fmt.Fprintf(&b, "%s %s", h.Method, h.URL)
	} else {
		b.WriteString("-")
	}
	b.WriteString(" -> ")
	if h.HasResponse {
		fmt.Fprintf(&b, "%d %s", h.StatusCode, h.StatusText)
	} else {
		b.WriteString("-")
	}
	if h.HasRequest {
		fmt.Fprintf(&b, " req=%d+%d", h.Request.HeadersSize, h.Request.BodySize)
	}
	if h.HasResponse {
		fmt.Fprintf(&b, " resp=%d+%d", h.Response.HeadersSize, h.Response.BodySize)
	}
	fmt.Fprintf(&b, " client=%s", map[dissect.Side]string{A: "A", B: "B"}[client])
	if e.ErrorType != "" {
		b.WriteString(" !" + e.ErrorType)
	}
	return b.String()
}

func (r result) describe() []string {
	out := make([]string, len(r.entries))
	for i, e := range r.entries {
		out[i] = describe(e, r.clients[i])
	}
	return out
}

// expect compares the descriptions of r's entries with want.
func expect(t *testing.T, r result, want ...string) {
	t.Helper()
	got := r.describe()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("entries:\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(want, "\n      "))
	}
}

// canonical is a printable rendering of everything a parser emitted.
func canonical(t testing.TB, r result) string {
	t.Helper()
	type row struct {
		E      *dissect.Entry
		Client dissect.Side
	}
	rows := make([]row, len(r.entries))
	for i, e := range r.entries {
		rows[i] = row{e, r.clients[i]}
	}
	b, err := json.Marshal(rows)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sameResults reports whether two runs emitted equal entries for equal clients.
func sameResults(a, b result) bool {
	return reflect.DeepEqual(a.entries, b.entries) && reflect.DeepEqual(a.clients, b.clients)
}

// checkEntry checks invariants every emitted entry must satisfy.
func checkEntry(t testing.TB, e *dissect.Entry) {
	t.Helper()
	h := e.HTTP
	switch {
	case e.Protocol != dissect.ProtoHTTP:
		t.Errorf("entry protocol %q", e.Protocol)
	case h == nil:
		t.Errorf("entry without HTTP payload")
	case !h.HasRequest && !h.HasResponse:
		t.Errorf("entry with neither request nor response")
	case h.HasRequest && (h.Method == "" || h.URL == "" || h.Request.Headers == nil):
		t.Errorf("request without method, URL or headers: %+v", h)
	case h.HasResponse && (h.StatusCode < 0 || h.StatusCode > 999 || h.Response.Headers == nil):
		t.Errorf("response with status %d, headers %v", h.StatusCode, h.Response.Headers)
	case h.Request.BodySize < 0 || h.Response.BodySize < 0 || h.Request.HeadersSize < 0 || h.Response.HeadersSize < 0:
		t.Errorf("negative size: %+v", h)
	case e.Elapsed < 0:
		t.Errorf("negative elapsed %v", e.Elapsed)
	case e.ErrorType != "" && e.ErrorMessage == "":
		t.Errorf("error %q without message", e.ErrorType)
	case (!h.HasRequest || !h.HasResponse) && e.ErrorType == "":
		t.Errorf("an exchange without request or response has no error type")
	}
}

// bytewise splits every chunk of a script into one-byte chunks.
func bytewise(chunks []chunk) []chunk { return resplit(chunks, 1) }

// resplit cuts every chunk of a script into pieces of at most n bytes; a gap stays on
// the first piece, and empty chunks are kept.
func resplit(chunks []chunk, n int) []chunk {
	var out []chunk
	for _, c := range chunks {
		if len(c.data) == 0 {
			out = append(out, c)
			continue
		}
		for i := 0; i < len(c.data); i += n {
			d := chunk{side: c.side, data: c.data[i:min(i+n, len(c.data))]}
			if i == 0 {
				d.skipped = c.skipped
			}
			out = append(out, d)
		}
	}
	return out
}

// payload decodes an IPv4/TCP fixture packet and returns its TCP payload.
func payload(t testing.TB, packet []byte) string {
	t.Helper()
	p := gopacket.NewPacket(packet, layers.LayerTypeIPv4, gopacket.Default)
	tcp, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
	if !ok {
		t.Fatalf("fixture is not IPv4/TCP: %v", p.ErrorLayer())
	}
	return string(tcp.Payload)
}

// recorder wraps the HTTP dissector and records the chunks the pipeline feeds, one
// script per stream: real chunking of real captures, for fuzz seeds.
type recorder struct{ scripts *[][]chunk }

func (recorder) Protocol() string { return dissect.ProtoHTTP }
func (recorder) Probe(s dissect.Side, data []byte, ports [2]uint16) dissect.Verdict {
	return http.Dissector.Probe(s, data, ports)
}
func (r recorder) NewParser(emit dissect.Emit) dissect.StreamParser {
	*r.scripts = append(*r.scripts, nil)
	return &recParser{scripts: r.scripts, i: len(*r.scripts) - 1, inner: http.Dissector.NewParser(emit)}
}

type recParser struct {
	scripts *[][]chunk
	i       int
	inner   dissect.StreamParser
}

func (p *recParser) Feed(c dissect.Chunk) {
	(*p.scripts)[p.i] = append((*p.scripts)[p.i], chunk{side: c.Side, data: string(c.Data), skipped: c.Skipped})
	p.inner.Feed(c)
}
func (p *recParser) Close(t time.Time) { p.inner.Close(t) }

// captureScripts replays a capture of testdata and returns the chunks fed per stream.
func captureScripts(t testing.TB, name string) [][]chunk {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("opening capture: %v", err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var scripts [][]chunk
	p := dissect.New(dissect.Config{TCP: []dissect.TCPDissector{recorder{&scripts}}}, func(*dissect.Entry) {})
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		p.Packet(&dissect.Packet{Timestamp: ci.Timestamp, LinkType: r.LinkType(), Data: data, Length: ci.Length})
	}
	p.Flush()
	return scripts
}

// encodeScript and decodeScript convert a script to and from the fuzzer's byte form:
// records of a control byte (bit 0: side; bit 1: a gap precedes the data, of bits 2-7
// bytes, 0 meaning unknown), a 16-bit big-endian length, and the data.
func encodeScript(chunks []chunk) []byte {
	var out []byte
	for _, c := range chunks {
		for len(c.data) > 0xffff {
			out = append(out, encodeScript([]chunk{{side: c.side, data: c.data[:0xffff], skipped: c.skipped}})...)
			c.data, c.skipped = c.data[0xffff:], 0
		}
		ctrl := byte(c.side & 1)
		if c.skipped != 0 {
			sk := c.skipped
			if sk < 0 || sk > 63 {
				sk = 0
			}
			ctrl |= 2 | byte(sk)<<2
		}
		out = append(out, ctrl, byte(len(c.data)>>8), byte(len(c.data)))
		out = append(out, c.data...)
	}
	return out
}

func decodeScript(b []byte) []chunk {
	var out []chunk
	for len(b) > 0 {
		ctrl := b[0]
		b = b[1:]
		n := 0
		if len(b) >= 2 {
			n = int(b[0])<<8 | int(b[1])
			b = b[2:]
		} else {
			b = b[:0]
		}
		n = min(n, len(b))
		c := chunk{side: dissect.Side(ctrl & 1), data: string(b[:n])}
		if ctrl&2 != 0 {
			c.skipped = int(ctrl >> 2)
			if c.skipped == 0 {
				c.skipped = -1
			}
		}
		out = append(out, c)
		b = b[n:]
	}
	return out
}
