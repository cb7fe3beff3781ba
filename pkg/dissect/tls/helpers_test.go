package tls

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect/internal/dissecttest"
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

// at returns the capture time of script byte i: byte i of a script (both sides
// counted, in feeding order) was captured i milliseconds after dissecttest.T0, so
// timestamps do not depend on how the bytes are split into chunks.
func at(i int) time.Time { return dissecttest.T0.Add(time.Duration(i) * time.Millisecond) }

// ifaceOf is the capture interface tests give a side's chunks (1 for A, 2 for B).
func ifaceOf(s dissect.Side) int { return int(s) + 1 }

// result is what a parser emitted.
type result struct {
	entries []*dissect.Entry
	clients []dissect.Side
}

// run feeds chunks to a new parser and closes it.
func run(t testing.TB, chunks []chunk) result {
	t.Helper()
	var r result
	p := Dissector.NewParser(func(e *dissect.Entry, client dissect.Side) {
		r.entries = append(r.entries, e)
		r.clients = append(r.clients, client)
	})
	base, n := 0, 0
	timeAt := func(off int) time.Time {
		if off < 0 || off >= n {
			t.Errorf("Chunk.Time(%d) called on a %d-byte chunk", off, n)
		}
		return at(base + off)
	}
	var buf []byte
	for _, c := range chunks {
		buf = append(buf[:0], c.data...)
		n = len(buf)
		p.Feed(dissect.Chunk{Side: c.side, Data: buf, Skipped: c.skipped, Interface: ifaceOf(c.side), Time: timeAt})
		clear(buf) // the parser must not keep references to chunk data
		base += n
	}
	p.Close(at(base))
	return r
}

// describe renders an entry compactly: "ClientHello sni=a.test offered=TLS 1.3
// alpn=h2,http/1.1 suites=31 -> TLS 1.3 TLS_AES_256_GCM_SHA384 req=517 resp=127
// client=A !error".
func describe(e *dissect.Entry, client dissect.Side) string {
	t := e.TLS
	if t == nil {
		return "no TLS payload"
	}
	var b strings.Builder
	b.WriteString(t.Summary)
	if t.HasRequest {
		if t.SNI != "" {
			fmt.Fprintf(&b, " sni=%s", t.SNI)
		}
		fmt.Fprintf(&b, " offered=%s", t.ClientVersion)
		if len(t.ClientALPN) > 0 {
			fmt.Fprintf(&b, " alpn=%s", strings.Join(t.ClientALPN, ","))
		}
		fmt.Fprintf(&b, " suites=%d", t.CipherSuites)
	}
	b.WriteString(" ->")
	if t.HasResponse {
		fmt.Fprintf(&b, " %s %s", t.Version, t.Cipher)
		if t.ALPN != "" {
			fmt.Fprintf(&b, " alpn=%s", t.ALPN)
		}
	} else {
		b.WriteString(" -")
	}
	if t.HelloRetry {
		b.WriteString(" retry")
	}
	if t.Alert != "" {
		fmt.Fprintf(&b, " alert=%s", t.Alert)
	}
	fmt.Fprintf(&b, " req=%d resp=%d client=%s", t.RequestSize, t.ResponseSize, map[dissect.Side]string{A: "A", B: "B"}[client])
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

var errorTypes = map[string]bool{
	"": true, dissect.ErrorNoResponse: true, dissect.ErrorNoRequest: true,
	dissect.ErrorTruncated: true, dissect.ErrorMalformed: true, ErrorAlert: true,
}

// checkResult checks the invariants of everything a parser emits: at most one entry,
// and each entry valid.
func checkResult(t testing.TB, r result) {
	t.Helper()
	if len(r.entries) > 1 {
		t.Errorf("%d entries for one connection", len(r.entries))
	}
	for _, e := range r.entries {
		checkEntry(t, e)
	}
}

// checkEntry checks the invariants every emitted entry satisfies.
func checkEntry(t testing.TB, e *dissect.Entry) {
	t.Helper()
	tl := e.TLS
	switch {
	case e.Protocol != dissect.ProtoTLS:
		t.Errorf("entry protocol %q", e.Protocol)
	case tl == nil:
		t.Errorf("entry without TLS payload")
	case !tl.HasRequest && !tl.HasResponse:
		t.Errorf("entry with neither ClientHello nor ServerHello: %+v", tl)
	case tl.HasRequest != (tl.Summary == "ClientHello") || !tl.HasRequest && tl.Summary != "ServerHello":
		t.Errorf("summary %q with HasRequest %v", tl.Summary, tl.HasRequest)
	case tl.RequestSize < 0 || tl.ResponseSize < 0 || tl.CipherSuites < 0 || e.Elapsed < 0:
		t.Errorf("negative size or time: %+v, elapsed %v", tl, e.Elapsed)
	case !tl.HasRequest && (tl.RequestSize != 0 || tl.SNI != "" || tl.ClientALPN != nil || tl.CipherSuites != 0 || tl.ClientVersion != ""):
		t.Errorf("request fields without a ClientHello: %+v", tl)
	case tl.HasRequest && tl.RequestSize < recordHeaderLen+4:
		t.Errorf("ClientHello in %d bytes of records", tl.RequestSize)
	case !tl.HasResponse && (tl.Cipher != "" || tl.CipherSuite != 0 || tl.ALPN != ""):
		t.Errorf("response fields without a ServerHello: %+v", tl)
	case !tl.HasResponse && tl.Alert == "" && tl.ResponseSize != 0:
		t.Errorf("response size %d without a ServerHello or alert", tl.ResponseSize)
	case tl.Cipher != "" && tl.Cipher != cipherSuiteName(tl.CipherSuite), tl.Cipher == "" && tl.CipherSuite != 0:
		t.Errorf("cipher %q, suite %#04x", tl.Cipher, tl.CipherSuite)
	case len(tl.ClientALPN) > maxALPN || len(tl.SNI) > maxSNI:
		t.Errorf("%d ALPN protocols, SNI of %d bytes", len(tl.ClientALPN), len(tl.SNI))
	case !errorTypes[e.ErrorType]:
		t.Errorf("unknown error type %q", e.ErrorType)
	case e.ErrorType != "" && e.ErrorMessage == "":
		t.Errorf("error %q without message", e.ErrorType)
	case e.ErrorType == "" && e.ErrorMessage != "":
		t.Errorf("error message %q without type", e.ErrorMessage)
	case (!tl.HasRequest || !tl.HasResponse) && e.ErrorType == "":
		t.Errorf("a handshake without ClientHello or ServerHello has no error type")
	case e.Timestamp.IsZero():
		t.Errorf("entry without timestamp")
	}
}

// resplit cuts every chunk of a script into pieces of at most n bytes; a gap stays on
// the first piece.
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

// payload returns the TCP payload of a `tcpdump -X` fixture.
func payload(t testing.TB, dump string) string {
	t.Helper()
	return string(dissecttest.L4Payload(t, dissecttest.FromTcpdumpX(t, dump)))
}

// recorder wraps the dissector and records the chunks the pipeline feeds, one script
// per stream: the real chunking of a real capture.
type recorder struct{ scripts *[][]chunk }

func (recorder) Protocol() string { return dissect.ProtoTLS }
func (recorder) Probe(s dissect.Side, data []byte, ports [2]uint16) dissect.Verdict {
	return Dissector.Probe(s, data, ports)
}
func (r recorder) NewParser(emit dissect.Emit) dissect.StreamParser {
	*r.scripts = append(*r.scripts, nil)
	return &recParser{scripts: r.scripts, i: len(*r.scripts) - 1, inner: Dissector.NewParser(emit)}
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
	var scripts [][]chunk
	dissecttest.Replay(t, "testdata/"+name, dissect.Config{TCP: []dissect.TCPDissector{recorder{&scripts}}})
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

// records frames handshake bytes into handshake records of at most n bytes each.
func records(hs string, n int) string {
	var b strings.Builder
	for len(hs) > 0 {
		k := min(n, len(hs))
		b.WriteString(string([]byte{ctHandshake, 3, 3, byte(k >> 8), byte(k)}))
		b.WriteString(hs[:k])
		hs = hs[k:]
	}
	return b.String()
}

// unrecord returns the bodies of the handshake records at the start of data, joined
// (the handshake messages), and what follows them.
func unrecord(t testing.TB, data string) (hs, rest string) {
	t.Helper()
	for len(data) >= recordHeaderLen && data[0] == ctHandshake {
		n := be16([]byte(data[3:5]))
		if recordHeaderLen+n > len(data) {
			t.Fatalf("record of %d bytes in %d", n, len(data))
		}
		hs += data[recordHeaderLen : recordHeaderLen+n]
		data = data[recordHeaderLen+n:]
	}
	return hs, data
}
