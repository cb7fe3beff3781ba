package http_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect/http"
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect/internal/dissecttest"
)

const (
	A = dissect.SideA
	B = dissect.SideB
)

// chunk is one Feed call of a test script.
type chunk = dissecttest.Step

// result is what a parser emitted.
type result struct {
	dissecttest.Result
	stalls uint64
}

// run feeds chunks to a new parser (with lim) and closes it.
func run(t testing.TB, lim http.Limits, chunks []chunk) result {
	t.Helper()
	var r result
	p := http.NewParser(r.Emit, lim)
	dissecttest.Feed(t, p, chunks)
	r.stalls = http.Stalls(p)
	if r.stalls != 0 {
		t.Errorf("parser stalled %d times", r.stalls)
	}
	return r
}

// describe renders an entry's HTTP payload compactly: "GET /a -> 200 OK req=40+0
// resp=60+5" (dissecttest.Result.Describe adds the client and the error).
func describe(e *dissect.Entry) string {
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
	return b.String()
}

func (r result) describe() []string { return r.Describe(describe) }

// expect compares the descriptions of r's entries with want.
func expect(t *testing.T, r result, want ...string) {
	t.Helper()
	dissecttest.ExpectLines(t, r.describe(), want...)
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
