package dissecttest

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
)

// Step is one Feed call of a test script: the bytes one side sent, after a gap of
// Skipped bytes (-1: of unknown size).
type Step struct {
	Side    dissect.Side
	Data    string
	Skipped int
}

// Size is the number of bytes of a script, gaps not counted.
func Size(script []Step) int {
	n := 0
	for _, s := range script {
		n += len(s.Data)
	}
	return n
}

// Resplit cuts every step of a script into pieces of at most n bytes; a gap stays on
// the first piece, and empty steps are kept.
func Resplit(script []Step, n int) []Step {
	var out []Step
	for _, s := range script {
		if len(s.Data) == 0 {
			out = append(out, s)
			continue
		}
		for i := 0; i < len(s.Data); i += n {
			d := Step{Side: s.Side, Data: s.Data[i:min(i+n, len(s.Data))]}
			if i == 0 {
				d.Skipped = s.Skipped
			}
			out = append(out, d)
		}
	}
	return out
}

// EachSplit calls f with script cut in two at every offset k inside each step i: a
// gap stays on the first piece.
func EachSplit(script []Step, f func(i, k int, split []Step)) {
	for i, s := range script {
		for k := 1; k < len(s.Data); k++ {
			split := append([]Step(nil), script[:i]...)
			split = append(split, Step{s.Side, s.Data[:k], s.Skipped}, Step{s.Side, s.Data[k:], 0})
			split = append(split, script[i+1:]...)
			f(i, k, split)
		}
	}
}

// EachPrefix calls f with the prefix of script cut after each n bytes, 0 to all of
// them: the steps before the cut, and the cut one (possibly empty).
func EachPrefix(script []Step, f func(n int, prefix []Step)) {
	for n := 0; n <= Size(script); n++ {
		var prefix []Step
		left := n
		for _, s := range script {
			if left < len(s.Data) {
				prefix = append(prefix, Step{s.Side, s.Data[:left], s.Skipped})
				break
			}
			prefix = append(prefix, s)
			left -= len(s.Data)
		}
		f(n, prefix)
	}
}

// CheckCuts runs a truncation table: span gives the name of a row and the cuts it
// covers, after n bytes with from <= n < to. CheckCuts checks that the rows cover
// every cut of a total-byte exchange, from 0 to total, in order and without gaps, and
// calls check for each cut.
func CheckCuts[R any](t *testing.T, total int, table []R, span func(R) (name string, from, to int), check func(row R, n int)) {
	t.Helper()
	covered := 0
	for _, row := range table {
		name, from, to := span(row)
		if from != covered {
			t.Fatalf("table gap before %q: %d..%d", name, covered, from)
		}
		covered = to
		for n := from; n < to; n++ {
			check(row, n)
		}
	}
	if covered != total+1 {
		t.Fatalf("table covers cuts up to %d of %d", covered, total)
	}
}

// Result is what a parser emitted: the entries and the client side reported with
// each.
type Result struct {
	Entries []*dissect.Entry
	Clients []dissect.Side
}

// Emit records an entry; it is a dissect.StreamParser's emit function.
func (r *Result) Emit(e *dissect.Entry, client dissect.Side) {
	r.Entries = append(r.Entries, e)
	r.Clients = append(r.Clients, client)
}

// Describe renders every entry compactly, for tests that compare text: what
// describe says of the entry, then its client side and its error type, as in
// "GET /a -> 200 OK client=A !truncated".
func (r Result) Describe(describe func(*dissect.Entry) string) []string {
	out := make([]string, len(r.Entries))
	for i, e := range r.Entries {
		out[i] = describe(e) + " client=" + map[dissect.Side]string{dissect.SideA: "A", dissect.SideB: "B"}[r.Clients[i]]
		if e.ErrorType != "" {
			out[i] += " !" + e.ErrorType
		}
	}
	return out
}

// Canonical is a printable rendering of everything a parser emitted.
func (r Result) Canonical(t testing.TB) string {
	t.Helper()
	type row struct {
		E      *dissect.Entry
		Client dissect.Side
	}
	rows := make([]row, len(r.Entries))
	for i, e := range r.Entries {
		rows[i] = row{e, r.Clients[i]}
	}
	b, err := json.Marshal(rows)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Same reports whether two runs emitted equal entries for equal clients.
func (r Result) Same(o Result) bool {
	return reflect.DeepEqual(r.Entries, o.Entries) && reflect.DeepEqual(r.Clients, o.Clients)
}

// ExpectLines compares described entries with want.
func ExpectLines(t testing.TB, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("entries:\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(want, "\n      "))
	}
}

// Iface is the capture interface Feed gives a side's chunks (1 for A, 2 for B), to
// check that entries take the interface of the request.
func Iface(s dissect.Side) int { return int(s) + 1 }

// scriptClock serves Chunk.Time for the chunk being fed: one value per script, so
// that feeding allocates nothing per chunk (the parser may only call Time during
// Feed).
type scriptClock struct {
	t         testing.TB
	base, len int
}

func (c *scriptClock) at(off int) time.Time {
	if off < 0 || off >= c.len {
		c.t.Errorf("Chunk.Time(%d) called on a %d-byte chunk", off, c.len)
	}
	return At(c.base + off)
}

// Feed feeds script to p, one Chunk a step, and closes it. Byte i of a script (both
// sides counted, in feeding order) was captured At(i), so timestamps do not depend
// on how the bytes are split into steps. The chunk's bytes are cleared after Feed
// returns: the parser must not keep references to them.
func Feed(t testing.TB, p dissect.StreamParser, script []Step) {
	clock := &scriptClock{t: t}
	timeAt := clock.at
	var buf []byte
	for _, s := range script {
		buf = append(buf[:0], s.Data...)
		clock.len = len(buf)
		p.Feed(dissect.Chunk{Side: s.Side, Data: buf, Skipped: s.Skipped, Interface: Iface(s.Side), Time: timeAt})
		clear(buf)
		clock.base += len(buf)
	}
	p.Close(At(clock.base))
}

// recorder wraps a dissector and records the chunks the pipeline feeds, one script
// per stream: the real chunking of a real capture, for fuzz seeds.
type recorder struct {
	dissect.TCPDissector
	scripts *[][]Step
}

func (r recorder) NewParser(emit dissect.Emit) dissect.StreamParser {
	*r.scripts = append(*r.scripts, nil)
	return &recParser{StreamParser: r.TCPDissector.NewParser(emit), scripts: r.scripts, i: len(*r.scripts) - 1}
}

type recParser struct {
	dissect.StreamParser
	scripts *[][]Step
	i       int
}

func (p *recParser) Feed(c dissect.Chunk) {
	(*p.scripts)[p.i] = append((*p.scripts)[p.i], Step{c.Side, string(c.Data), c.Skipped})
	p.StreamParser.Feed(c)
}

// CaptureScripts replays the capture at path through a pipeline with d and returns
// the steps it fed per stream.
func CaptureScripts(t testing.TB, path string, d dissect.TCPDissector) [][]Step {
	t.Helper()
	var scripts [][]Step
	Replay(t, path, dissect.Config{TCP: []dissect.TCPDissector{recorder{d, &scripts}}})
	return scripts
}

// EncodeScript and DecodeScript convert a script to and from the fuzzers' byte form:
// records of a control byte (bit 0: side; bit 1: a gap precedes the data, of bits 2-7
// bytes, 0 meaning unknown), a 16-bit big-endian length, and the data.
func EncodeScript(script []Step) []byte {
	var out []byte
	for _, s := range script {
		for len(s.Data) > 0xffff {
			out = append(out, EncodeScript([]Step{{s.Side, s.Data[:0xffff], s.Skipped}})...)
			s.Data, s.Skipped = s.Data[0xffff:], 0
		}
		ctrl := byte(s.Side & 1)
		if s.Skipped != 0 {
			sk := s.Skipped
			if sk < 0 || sk > 63 {
				sk = 0
			}
			ctrl |= 2 | byte(sk)<<2
		}
		out = append(out, ctrl, byte(len(s.Data)>>8), byte(len(s.Data)))
		out = append(out, s.Data...)
	}
	return out
}

// DecodeScript is the inverse of EncodeScript, for any input.
func DecodeScript(b []byte) []Step {
	var out []Step
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
		s := Step{Side: dissect.Side(ctrl & 1), Data: string(b[:n])}
		if ctrl&2 != 0 {
			s.Skipped = int(ctrl >> 2)
			if s.Skipped == 0 {
				s.Skipped = -1
			}
		}
		out = append(out, s)
		b = b[n:]
	}
	return out
}
