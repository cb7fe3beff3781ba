package http_test

import (
	"strings"
	"testing"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect/http"
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect/internal/dissecttest"
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
	scripts := dissecttest.CaptureScripts(f, "testdata/nginx.pcap", http.Dissector)
	if len(scripts) == 0 {
		f.Fatal("no HTTP streams in nginx.pcap")
	}
	for i, s := range scripts {
		b := dissecttest.EncodeScript(s)
		f.Add(b[:min(len(b), maxFuzzInput)], uint8(i))
	}
	f.Add(dissecttest.EncodeScript(richScript()), uint8(0))
	f.Add(dissecttest.EncodeScript([]chunk{
		{Side: A, Data: payload(f, fixtureHEADRequest)}, {Side: B, Data: payload(f, fixtureHEADResponse)},
		{Side: A, Data: payload(f, fixturePOSTRequest)}, {Side: B, Data: payload(f, fixturePOSTResponse)},
	}), uint8(2))
	f.Add(dissecttest.EncodeScript([]chunk{
		{Side: B, Data: payload(f, fixturePipelinedRequests)}, {Side: A, Data: payload(f, fixturePipelinedResponse1)},
		{Side: A, Data: payload(f, fixturePipelinedResponse2), Skipped: 7}, {Side: A, Data: payload(f, fixturePipelinedResponse3), Skipped: -1},
	}), uint8(5))
	f.Add(dissecttest.EncodeScript([]chunk{
		{Side: A, Data: getA}, {Side: B, Data: "HTTP/1.1 200 OK\r\nContent-Le"}, {Side: B, Data: "ngth: 5\r\n\r\nhello", Skipped: 40},
		{Side: A, Data: "xx\r\nFOO /x HTTP/1.1\r\n\r\n" + getB, Skipped: -1}, {Side: B, Data: nf0 + "junk"},
		{Side: A, Data: "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + strings.Repeat("f", 20) + "\r\n"},
		{Side: B, Data: "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nab"},
	}), uint8(0))
	f.Add([]byte{0, 0, 4, 'G', 'E', 'T', ' ', 1, 0, 3, 'H', 'T', 'T'}, uint8(0))

	f.Fuzz(func(t *testing.T, b []byte, step uint8) {
		if len(b) > maxFuzzInput {
			return
		}
		script := dissecttest.DecodeScript(b)
		r := run(t, fuzzLimits, script)
		for _, e := range r.Entries {
			checkEntry(t, e)
		}
		if t.Failed() {
			return
		}
		if again := run(t, fuzzLimits, dissecttest.Resplit(script, int(step)+1)); !again.Same(r.Result) {
			t.Errorf("feeding in pieces of %d bytes differs:\n got %s\nwant %s", int(step)+1, again.Canonical(t), r.Canonical(t))
		}
	})
}

// TestFuzzSeedsFromCapture makes sure the fuzz seeds hold real traffic.
func TestFuzzSeedsFromCapture(t *testing.T) {
	scripts := dissecttest.CaptureScripts(t, "testdata/nginx.pcap", http.Dissector)
	if len(scripts) != 13 {
		t.Fatalf("%d HTTP streams in nginx.pcap, want 13", len(scripts))
	}
	for i, s := range scripts {
		back := dissecttest.DecodeScript(dissecttest.EncodeScript(s))
		var a, b strings.Builder
		for _, c := range s {
			a.WriteString(c.Data)
		}
		for _, c := range back {
			b.WriteString(c.Data)
		}
		if a.String() != b.String() || len(back) < len(s) {
			t.Errorf("stream %d: the fuzz encoding does not round-trip", i)
		}
		sides := map[dissect.Side]bool{}
		for _, c := range s {
			sides[c.Side] = true
		}
		if !sides[A] || !sides[B] {
			t.Errorf("stream %d has data of one side only", i)
		}
	}
}
