package tls

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect/internal/dissecttest"
)

const (
	A = dissect.SideA
	B = dissect.SideB
)

// chunk is one Feed call of a test script.
type chunk = dissecttest.Step

// result is what a parser emitted.
type result struct{ dissecttest.Result }

// run feeds chunks to a new parser and closes it.
func run(t testing.TB, chunks []chunk) result {
	t.Helper()
	var r result
	dissecttest.Feed(t, Dissector.NewParser(r.Emit), chunks)
	return r
}

// describe renders an entry's TLS payload compactly: "ClientHello sni=a.test
// offered=TLS 1.3 alpn=h2,http/1.1 suites=31 -> TLS 1.3 TLS_AES_256_GCM_SHA384
// req=517 resp=127" (dissecttest.Result.Describe adds the client and the error).
func describe(e *dissect.Entry) string {
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
	fmt.Fprintf(&b, " req=%d resp=%d", t.RequestSize, t.ResponseSize)
	return b.String()
}

func (r result) describe() []string { return r.Describe(describe) }

// expect compares the descriptions of r's entries with want.
func expect(t *testing.T, r result, want ...string) {
	t.Helper()
	dissecttest.ExpectLines(t, r.describe(), want...)
}

var errorTypes = map[string]bool{
	"": true, dissect.ErrorNoResponse: true, dissect.ErrorNoRequest: true,
	dissect.ErrorTruncated: true, dissect.ErrorMalformed: true, ErrorAlert: true,
}

// checkResult checks the invariants of everything a parser emits: at most one entry,
// and each entry valid.
func checkResult(t testing.TB, r result) {
	t.Helper()
	if len(r.Entries) > 1 {
		t.Errorf("%d entries for one connection", len(r.Entries))
	}
	for _, e := range r.Entries {
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

// payload returns the TCP payload of a `tcpdump -X` fixture.
func payload(t testing.TB, dump string) string {
	t.Helper()
	return string(dissecttest.L4Payload(t, dissecttest.FromTcpdumpX(t, dump)))
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
