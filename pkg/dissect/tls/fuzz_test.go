package tls

import (
	"strings"
	"testing"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
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
	scripts := captureScripts(f, "tls.pcapng")
	if len(scripts) != 11 {
		f.Fatalf("%d TLS streams in tls.pcapng, want 11", len(scripts))
	}
	for i, s := range scripts {
		b := encodeScript(s)
		f.Add(b[:min(len(b), maxFuzzInput)], uint8(i))
	}
	for i, name := range fixtureNames {
		ch, sh := fixturePair(f, name)
		f.Add(encodeScript([]chunk{{A, ch, 0}, {B, sh, 0}}), uint8(i))
		f.Add(encodeScript([]chunk{{A, ch[:100], 0}, {A, ch[110:], 10}, {B, sh, -1}}), uint8(i))
		hs, _ := unrecord(f, ch)
		shs, rest := unrecord(f, sh)
		f.Add(encodeScript([]chunk{{A, records(hs, 7), 0}, {B, records(shs, 3) + rest, 0}}), uint8(2))
	}
	f.Add(encodeScript([]chunk{{A, "\x16\x03\x01\x00\x05\x01\x00\x00\x01\x03", 0}, {B, "\x15\x03\x03\x00\x02\x02\x28", 0}}), uint8(0))
	f.Add([]byte("\x00\x00\x0b\x16\x03\x01\xff\xff\x02\x00\x00\x26\x03\x03"), uint8(1))

	f.Fuzz(func(t *testing.T, b []byte, step uint8) {
		if len(b) > maxFuzzInput {
			return
		}
		script := decodeScript(b)
		if len(script) > 0 {
			d := []byte(script[0].data)
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
		if again := run(t, resplit(script, int(step)+1)); !sameResults(again, r) {
			t.Errorf("feeding in pieces of %d bytes differs:\n got %s\nwant %s", int(step)+1, canonical(t, again), canonical(t, r))
		}
	})
}

// TestFuzzSeedsFromCapture makes sure the fuzz seeds hold real traffic of both sides.
func TestFuzzSeedsFromCapture(t *testing.T) {
	for i, s := range captureScripts(t, "tls.pcapng") {
		back := decodeScript(encodeScript(s))
		var a, b strings.Builder
		sides := map[dissect.Side]bool{}
		for _, c := range s {
			a.WriteString(c.data)
			sides[c.side] = true
		}
		for _, c := range back {
			b.WriteString(c.data)
		}
		if a.String() != b.String() {
			t.Errorf("stream %d: the fuzz encoding does not round-trip", i)
		}
		if !sides[A] || !sides[B] {
			t.Errorf("stream %d has data of one side only", i)
		}
	}
}
