package http_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect/http"
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect/internal/dissecttest"
)

// TestTruncations cuts a valid exchange after every byte (end of stream, then Close)
// and checks the partial entry against a table of the ranges a cut can fall in.
func TestTruncations(t *testing.T) {
	const (
		req  = "POST /t?k=v HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody"
		resp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n"
	)
	reqLine := strings.Index(req, "\n") + 1
	statusLine := strings.Index(resp, "\n") + 1
	rh, sh := hsize(req), hsize(resp)
	chunkData := sh + len("3\r\n")

	type cuts struct {
		name     string
		from, to int // cut after n bytes, from <= n < to (n counts request then response)
		want     func(n int) []string
	}
	tests := []cuts{
		{"inside the request line", 0, reqLine, func(int) []string { return nil }},
		{"inside the request headers", reqLine, rh, func(n int) []string {
			return []string{fmt.Sprintf("POST /t?k=v -> - req=%d+0 client=A !truncated", n)}
		}},
		{"inside the request body", rh, len(req), func(n int) []string {
			return []string{fmt.Sprintf("POST /t?k=v -> - req=%d+%d client=A !truncated", rh, n-rh)}
		}},
		{"request complete, response not started or in its status line", len(req), len(req) + statusLine, func(int) []string {
			return []string{fmt.Sprintf("POST /t?k=v -> - req=%d+4 client=A !no_response", rh)}
		}},
		{"inside the response headers", len(req) + statusLine, len(req) + sh, func(n int) []string {
			return []string{fmt.Sprintf("POST /t?k=v -> 200 OK req=%d+4 resp=%d+0 client=A !truncated", rh, n-len(req))}
		}},
		{"inside the chunk size line", len(req) + sh, len(req) + chunkData, func(int) []string {
			return []string{fmt.Sprintf("POST /t?k=v -> 200 OK req=%d+4 resp=%d+0 client=A !truncated", rh, sh)}
		}},
		{"inside the chunk data", len(req) + chunkData, len(req) + chunkData + 3, func(n int) []string {
			return []string{fmt.Sprintf("POST /t?k=v -> 200 OK req=%d+4 resp=%d+%d client=A !truncated", rh, sh, n-len(req)-chunkData)}
		}},
		{"inside the last chunk or trailers", len(req) + chunkData + 3, len(req) + len(resp), func(int) []string {
			return []string{fmt.Sprintf("POST /t?k=v -> 200 OK req=%d+4 resp=%d+3 client=A !truncated", rh, sh)}
		}},
		{"complete", len(req) + len(resp), len(req) + len(resp) + 1, func(int) []string {
			return []string{fmt.Sprintf("POST /t?k=v -> 200 OK req=%d+4 resp=%d+3 client=A", rh, sh)}
		}},
	}
	dissecttest.CheckCuts(t, len(req)+len(resp), tests, func(tt cuts) (string, int, int) { return tt.name, tt.from, tt.to }, func(tt cuts, n int) {
		var chunks []chunk
		if n <= len(req) {
			chunks = []chunk{{Side: A, Data: req[:n]}}
		} else {
			chunks = []chunk{{Side: A, Data: req}, {Side: B, Data: resp[:n-len(req)]}}
		}
		r := run(t, http.Limits{}, chunks)
		for _, e := range r.Entries {
			checkEntry(t, e)
		}
		got, want := r.describe(), tt.want(n)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s, cut after %d bytes:\n got %q\nwant %q", tt.name, n, got, want)
		}
	})
	// The trailer is only merged once the chunked body is complete.
	r := run(t, http.Limits{}, []chunk{{Side: A, Data: req}, {Side: B, Data: resp}})
	if r.Entries[0].HTTP.Response.Headers["x-t"] != "1" {
		t.Errorf("trailer missing: %v", r.Entries[0].HTTP.Response.Headers)
	}
}

// TestTruncationsEverywhere cuts the rich script and the real pipelined exchange after
// every byte: entries stay valid, and a longer prefix never shows fewer requests or
// responses.
func TestTruncationsEverywhere(t *testing.T) {
	scripts := map[string][]chunk{
		"rich": richScript(),
		"pipelined capture": {
			{Side: B, Data: payload(t, fixturePipelinedRequests)}, {Side: A, Data: payload(t, fixturePipelinedResponse1)},
			{Side: A, Data: payload(t, fixturePipelinedResponse2)}, {Side: A, Data: payload(t, fixturePipelinedResponse3)},
		},
	}
	for name, script := range scripts {
		prevReq, prevResp := 0, 0
		dissecttest.EachPrefix(script, func(n int, prefix []chunk) {
			r := run(t, http.Limits{}, prefix)
			nReq, nResp := 0, 0
			for _, e := range r.Entries {
				checkEntry(t, e)
				if e.HTTP.HasRequest {
					nReq++
				}
				if e.HTTP.HasResponse {
					nResp++
				}
			}
			if nReq < prevReq || nResp < prevResp {
				t.Errorf("%s: cut after %d bytes: %d requests, %d responses; one byte earlier %d, %d:\n%s",
					name, n, nReq, nResp, prevReq, prevResp, strings.Join(r.describe(), "\n"))
			}
			prevReq, prevResp = nReq, nResp
		})
	}
}
