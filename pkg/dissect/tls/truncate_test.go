package tls

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect/internal/dissecttest"
)

// brief renders what a cut may change in an entry: the summary, whether a response is
// there and its version and cipher, the sizes and the error type.
func brief(r result) []string {
	var out []string
	for _, e := range r.Entries {
		t := e.TLS
		resp := "-"
		if t.HasResponse {
			resp = t.Version + "|" + t.Cipher
		}
		if t.Alert != "" {
			resp += " alert=" + t.Alert
		}
		out = append(out, fmt.Sprintf("%s -> %s req=%d resp=%d !%s", t.Summary, resp, t.RequestSize, t.ResponseSize, e.ErrorType))
	}
	return out
}

// TestTruncations cuts a real TLS 1.3 handshake after every byte (end of stream, then
// Close) and checks the entry against a table of the ranges a cut can fall in.
func TestTruncations(t *testing.T) {
	ch, sh := fixturePair(t, "TLS 1.3")
	const hdrs = recordHeaderLen + 4 // record and handshake headers
	shRecord := recordHeaderLen + be16([]byte(sh[3:5]))
	sidLen := int(sh[hdrs+2+32])
	cipherEnd := len(ch) + hdrs + 2 + 32 + 1 + sidLen + 2
	svEnd := len(ch) + strings.Index(sh, "\x00\x2b\x00\x02\x03\x04") + 6
	if sidLen != 32 || svEnd < cipherEnd || svEnd > len(ch)+shRecord {
		t.Fatalf("unexpected ServerHello layout: session ID of %d bytes, supported_versions ending at %d", sidLen, svEnd)
	}
	const cipher = "TLS_CHACHA20_POLY1305_SHA256"

	type cuts struct {
		name     string
		from, to int // cut after n bytes, from <= n < to (n counts the ClientHello side, then the server's)
		want     string
	}
	tests := []cuts{
		{"inside the ClientHello's headers", 0, hdrs, ""},
		{"inside the ClientHello", hdrs, len(ch), "ClientHello -> - req=331 resp=0 !truncated"},
		{"ClientHello complete, inside the ServerHello's headers", len(ch), len(ch) + hdrs, "ClientHello -> - req=331 resp=0 !no_response"},
		{"inside the ServerHello's legacy version", len(ch) + hdrs, len(ch) + hdrs + 2, "ClientHello -> | req=331 resp=127 !truncated"},
		{"inside the ServerHello's random and session ID", len(ch) + hdrs + 2, cipherEnd, "ClientHello -> TLS 1.2| req=331 resp=127 !truncated"},
		{"inside the ServerHello, before supported_versions", cipherEnd, svEnd, "ClientHello -> TLS 1.2|" + cipher + " req=331 resp=127 !truncated"},
		{"inside the ServerHello, after supported_versions", svEnd, len(ch) + shRecord, "ClientHello -> TLS 1.3|" + cipher + " req=331 resp=127 !truncated"},
		{"ServerHello complete", len(ch) + shRecord, len(ch) + len(sh) + 1, "ClientHello -> TLS 1.3|" + cipher + " req=331 resp=127 !"},
	}
	dissecttest.CheckCuts(t, len(ch)+len(sh), tests, func(tt cuts) (string, int, int) { return tt.name, tt.from, tt.to }, func(tt cuts, n int) {
		script := []chunk{{Side: A, Data: ch[:min(n, len(ch))]}}
		if n > len(ch) {
			script = append(script, chunk{Side: B, Data: sh[:n-len(ch)]})
		}
		r := run(t, script)
		checkResult(t, r)
		if got := strings.Join(brief(r), "\n"); got != tt.want {
			t.Errorf("%s, cut after %d bytes:\n got %q\nwant %q", tt.name, n, got, tt.want)
		}
	})

	// The alert: incomplete, it is nothing.
	ch, alert := fixturePair(t, "refused")
	for n := 0; n <= len(alert); n++ {
		want := "ClientHello -> - req=252 resp=0 !no_response"
		if n == len(alert) {
			want = "ClientHello -> - alert=protocol_version req=252 resp=7 !alert"
		}
		if got := strings.Join(brief(run(t, []chunk{{Side: A, Data: ch}, {Side: B, Data: alert[:n]}})), "\n"); got != want {
			t.Errorf("alert cut after %d bytes:\n got %q\nwant %q", n, got, want)
		}
	}
}

// TestTruncationsEverywhere cuts every stream of the capture after every byte: entries
// stay valid, a longer prefix never loses the ClientHello or the ServerHello, and the
// SNI is either absent or complete. (A HelloRetryRequest cut before the end of its
// random is taken for a cut ServerHello: the response comes and goes.)
func TestTruncationsEverywhere(t *testing.T) {
	for i, script := range dissecttest.CaptureScripts(t, "testdata/tls.pcapng", Dissector) {
		full := run(t, script)
		if len(full.Entries) != 1 {
			t.Fatalf("stream %d: %d entries", i, len(full.Entries))
		}
		sni := full.Entries[0].TLS.SNI
		retry := full.Entries[0].TLS.HelloRetry
		hadReq, hadResp, hadSNI := false, false, false
		dissecttest.EachPrefix(script, func(n int, prefix []chunk) {
			r := run(t, prefix)
			checkResult(t, r)
			var req, resp, withSNI bool
			for _, e := range r.Entries {
				req, resp = e.TLS.HasRequest, e.TLS.HasResponse
				withSNI = e.TLS.SNI != ""
				if withSNI && e.TLS.SNI != sni {
					t.Fatalf("stream %d cut after %d bytes: SNI %q, want %q", i, n, e.TLS.SNI, sni)
				}
			}
			if hadReq && !req || hadResp && !resp && !retry || hadSNI && !withSNI {
				t.Fatalf("stream %d cut after %d bytes: %v; one byte earlier request %v, response %v, SNI %v",
					i, n, r.describe(), hadReq, hadResp, hadSNI)
			}
			hadReq, hadResp, hadSNI = req, resp, withSNI
		})
	}
}
