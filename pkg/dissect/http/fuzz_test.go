package http_test

import (
	"strings"
	"testing"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect/http"
)

// fuzzLimits are small, so that fuzzing reaches the limit paths.
var fuzzLimits = http.Limits{MaxHeaderBytes: 1024, MaxPending: 8}

// FuzzParser feeds arbitrary bytes, split arbitrarily between both sides, with gaps
// (see decodeScript), and checks that the parser neither panics nor stalls, that every
// entry is valid, and that the same bytes re-cut into pieces of step+1 bytes (step 0:
// one byte at a time) give the same entries.
// Seeds: the streams of testdata/nginx.pcap as the pipeline fed them (their first
// maxFuzzInput bytes), the fixtures, and the scripts of the unit tests.
//
// Inputs are capped at maxFuzzInput bytes: the fuzzer minimises every input that finds
// new coverage, with a cost quadratic in its size, and spent most of a 60-second run
// minimising inputs of a few KiB.
func FuzzParser(f *testing.F) {
	const maxFuzzInput = 2 << 10
	scripts := captureScripts(f, "nginx.pcap")
	if len(scripts) == 0 {
		f.Fatal("no HTTP streams in nginx.pcap")
	}
	for i, s := range scripts {
		b := encodeScript(s)
		f.Add(b[:min(len(b), maxFuzzInput)], uint8(i))
	}
	f.Add(encodeScript(richScript()), uint8(0))
	f.Add(encodeScript([]chunk{
		{A, payload(f, fixtureHEADRequest), 0}, {B, payload(f, fixtureHEADResponse), 0},
		{A, payload(f, fixturePOSTRequest), 0}, {B, payload(f, fixturePOSTResponse), 0},
	}), uint8(2))
	f.Add(encodeScript([]chunk{
		{B, payload(f, fixturePipelinedRequests), 0}, {A, payload(f, fixturePipelinedResponse1), 0},
		{A, payload(f, fixturePipelinedResponse2), 7}, {A, payload(f, fixturePipelinedResponse3), -1},
	}), uint8(5))
	f.Add(encodeScript([]chunk{
		{A, getA, 0}, {B, "HTTP/1.1 200 OK\r\nContent-Le", 0}, {B, "ngth: 5\r\n\r\nhello", 40},
		{A, "xx\r\nFOO /x HTTP/1.1\r\n\r\n" + getB, -1}, {B, nf0 + "junk", 0},
		{A, "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + strings.Repeat("f", 20) + "\r\n", 0},
		{B, "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nab", 0},
	}), uint8(0))
	f.Add([]byte{0, 0, 4, 'G', 'E', 'T', ' ', 1, 0, 3, 'H', 'T', 'T'}, uint8(0))

	f.Fuzz(func(t *testing.T, b []byte, step uint8) {
		if len(b) > maxFuzzInput {
			return
		}
		script := decodeScript(b)
		r := run(t, fuzzLimits, script)
		for _, e := range r.entries {
			checkEntry(t, e)
		}
		if t.Failed() {
			return
		}
		if again := run(t, fuzzLimits, resplit(script, int(step)+1)); !sameResults(again, r) {
			t.Errorf("feeding in pieces of %d bytes differs:\n got %s\nwant %s", int(step)+1, canonical(t, again), canonical(t, r))
		}
	})
}

// TestFuzzSeedsFromCapture makes sure the fuzz seeds hold real traffic.
func TestFuzzSeedsFromCapture(t *testing.T) {
	scripts := captureScripts(t, "nginx.pcap")
	if len(scripts) != 13 {
		t.Fatalf("%d HTTP streams in nginx.pcap, want 13", len(scripts))
	}
	for i, s := range scripts {
		back := decodeScript(encodeScript(s))
		var a, b strings.Builder
		for _, c := range s {
			a.WriteString(c.data)
		}
		for _, c := range back {
			b.WriteString(c.data)
		}
		if a.String() != b.String() || len(back) < len(s) {
			t.Errorf("stream %d: the fuzz encoding does not round-trip", i)
		}
		sides := map[dissect.Side]bool{}
		for _, c := range s {
			sides[c.side] = true
		}
		if !sides[A] || !sides[B] {
			t.Errorf("stream %d has data of one side only", i)
		}
	}
}
