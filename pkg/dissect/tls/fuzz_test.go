package tls

import (
	"strings"
	"testing"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect/internal/dissecttest"
)

// maxFuzzInput caps fuzz inputs: the fuzzer minimises every input that finds new
// coverage, at a cost quadratic in its size.
const maxFuzzInput = 4 << 10

// FuzzParser feeds arbitrary bytes, split arbitrarily between both sides, with gaps
// (see decodeScript), and checks that the parser never panics, emits at most one valid
// entry, and emits the same entry when the bytes are re-cut into pieces of step+1
// bytes. It also runs Probe and both hello parsers on the first side's bytes. Seeds:
// the streams of testdata/tls.pcapng as the pipeline fed them (their first
// maxFuzzInput bytes), the fixtures, and hand-made edge cases.
func FuzzParser(f *testing.F) {
	scripts := dissecttest.CaptureScripts(f, "testdata/tls.pcapng", Dissector)
	if len(scripts) != 11 {
		f.Fatalf("%d TLS streams in tls.pcapng, want 11", len(scripts))
	}
	for i, s := range scripts {
		b := dissecttest.EncodeScript(s)
		f.Add(b[:min(len(b), maxFuzzInput)], uint8(i))
	}
	for i, name := range fixtureNames {
		ch, sh := fixturePair(f, name)
		f.Add(dissecttest.EncodeScript([]chunk{{Side: A, Data: ch}, {Side: B, Data: sh}}), uint8(i))
		f.Add(dissecttest.EncodeScript([]chunk{{Side: A, Data: ch[:100]}, {Side: A, Data: ch[110:], Skipped: 10}, {Side: B, Data: sh, Skipped: -1}}), uint8(i))
		hs, _ := unrecord(f, ch)
		shs, rest := unrecord(f, sh)
		f.Add(dissecttest.EncodeScript([]chunk{{Side: A, Data: records(hs, 7)}, {Side: B, Data: records(shs, 3) + rest}}), uint8(2))
	}
	f.Add(dissecttest.EncodeScript([]chunk{{Side: A, Data: "\x16\x03\x01\x00\x05\x01\x00\x00\x01\x03"}, {Side: B, Data: "\x15\x03\x03\x00\x02\x02\x28"}}), uint8(0))
	f.Add([]byte("\x00\x00\x0b\x16\x03\x01\xff\xff\x02\x00\x00\x26\x03\x03"), uint8(1))

	f.Fuzz(func(t *testing.T, b []byte, step uint8) {
		if len(b) > maxFuzzInput {
			return
		}
		script := dissecttest.DecodeScript(b)
		if len(script) > 0 {
			d := []byte(script[0].Data)
			Dissector.Probe(A, d, [2]uint16{1, 2})
			for _, partial := range []bool{false, true} {
				parseClientHello(d, partial)
				parseServerHello(d, partial)
			}
		}
		r := run(t, script)
		checkResult(t, r)
		if t.Failed() {
			return
		}
		if again := run(t, dissecttest.Resplit(script, int(step)+1)); !again.Same(r.Result) {
			t.Errorf("feeding in pieces of %d bytes differs:\n got %s\nwant %s", int(step)+1, again.Canonical(t), r.Canonical(t))
		}
	})
}

// TestFuzzSeedsFromCapture makes sure the fuzz seeds hold real traffic of both sides.
func TestFuzzSeedsFromCapture(t *testing.T) {
	for i, s := range dissecttest.CaptureScripts(t, "testdata/tls.pcapng", Dissector) {
		back := dissecttest.DecodeScript(dissecttest.EncodeScript(s))
		var a, b strings.Builder
		sides := map[dissect.Side]bool{}
		for _, c := range s {
			a.WriteString(c.Data)
			sides[c.Side] = true
		}
		for _, c := range back {
			b.WriteString(c.Data)
		}
		if a.String() != b.String() {
			t.Errorf("stream %d: the fuzz encoding does not round-trip", i)
		}
		if !sides[A] || !sides[B] {
			t.Errorf("stream %d has data of one side only", i)
		}
	}
}
