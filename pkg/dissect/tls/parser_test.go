package tls

import (
	"strings"
	"testing"
	"time"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect/internal/dissecttest"
)

// fixturePair returns the client and server payloads of a fixture handshake.
func fixturePair(t testing.TB, name string) (ch, sh string) {
	t.Helper()
	switch name {
	case "TLS 1.3":
		return payload(t, fixtureTLS13ClientHello), payload(t, fixtureTLS13ServerHello)
	case "TLS 1.2":
		return payload(t, fixtureTLS12ClientHello), payload(t, fixtureTLS12ServerHello)
	case "refused":
		return payload(t, fixtureRefusedClientHello), payload(t, fixtureRefusedAlert)
	}
	t.Fatalf("no fixture %q", name)
	return "", ""
}

var fixtureNames = []string{"TLS 1.3", "TLS 1.2", "refused"}

// fixtureWant is the entry of each fixture handshake, fed whole.
var fixtureWant = map[string]string{
	"TLS 1.3": "ClientHello sni=alpn.shark.test offered=TLS 1.3 alpn=foo,bar suites=29 -> TLS 1.3 TLS_CHACHA20_POLY1305_SHA256 req=331 resp=127 client=A",
	"TLS 1.2": "ClientHello sni=alpn12.shark.test offered=TLS 1.2 alpn=foo,bar suites=28 -> TLS 1.2 TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 alpn=bar req=228 resp=80 client=A",
	"refused": "ClientHello sni=refused.shark.test offered=TLS 1.3 suites=4 -> - alert=protocol_version req=252 resp=7 client=A !alert",
}

func TestFixtures(t *testing.T) {
	for _, name := range fixtureNames {
		t.Run(name, func(t *testing.T) {
			ch, sh := fixturePair(t, name)
			r := run(t, []chunk{{Side: A, Data: ch}, {Side: B, Data: sh}})
			checkResult(t, r)
			expect(t, r, fixtureWant[name])
			e := r.Entries[0]
			if e.Timestamp != dissecttest.At(0) || e.Interface != dissecttest.Iface(A) {
				t.Errorf("timestamp %v, interface %d; want the ClientHello's %v, %d", e.Timestamp, e.Interface, dissecttest.At(0), dissecttest.Iface(A))
			}
			if name != "refused" && e.Elapsed != dissecttest.At(len(ch)).Sub(dissecttest.At(0)) {
				t.Errorf("elapsed %v, want %v", e.Elapsed, dissecttest.At(len(ch)).Sub(dissecttest.At(0)))
			}
			// The server side as SideA: the roles come from the messages.
			r = run(t, []chunk{{Side: B, Data: ch}, {Side: A, Data: sh}})
			expect(t, r, strings.Replace(fixtureWant[name], "client=A", "client=B", 1))
		})
	}
	r := run(t, []chunk{{Side: A, Data: payload(t, fixtureTLS13ClientHello)}, {Side: B, Data: payload(t, fixtureTLS13ServerHello)}})
	if info := r.Entries[0].TLS.Info(); info != "TLS 1.3, TLS_CHACHA20_POLY1305_SHA256, SNI=alpn.shark.test, ALPN offered=foo,bar" {
		t.Errorf("Info() = %q", info)
	}
}

func TestProbe(t *testing.T) {
	for _, name := range fixtureNames {
		ch, sh := fixturePair(t, name)
		for _, data := range []string{ch, sh} {
			if data[0] != ctHandshake {
				continue // the alert
			}
			for n := 0; n <= 40; n++ {
				want := dissect.NeedMore
				if n >= 11 {
					want = dissect.Match
				}
				if got := Dissector.Probe(A, []byte(data[:n]), [2]uint16{50000, 443}); got != want {
					t.Errorf("%s: Probe(first %d bytes) = %v, want %v", name, n, got, want)
				}
			}
		}
	}
	ch := payload(t, fixtureTLS13ClientHello)
	patch := func(i int, b byte) string { return ch[:i] + string([]byte{b}) + ch[i+1:] }
	for _, tt := range []struct {
		name, data string
	}{
		{"HTTP", "GET / HTTP/1.1\r\nHost: a\r\n\r\n"},
		{"SSLv2-compatible ClientHello", "\x80\x2e\x01\x03\x01\x00\x15\x00\x00\x00\x10\x07\x00\xc0"},
		{"application data", "\x17\x03\x03\x00\x20" + strings.Repeat("x", 32)},
		{"alert", "\x15\x03\x03\x00\x02\x02\x28"},
		{"record version SSL 3.0", patch(2, 0)},
		{"record version 3.5", patch(2, 5)},
		{"record too long", patch(3, 0x40) + "x"},
		{"Certificate first", patch(5, 11)},
		{"hello too short", patch(7, 0)[:8] + "\x10" + ch[9:]},
		{"legacy version 4.3", patch(9, 4)},
		{"legacy version 3.5", patch(10, 5)},
		{"DNS over TCP", "\x00\x1d\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"},
		{"RESP", "*1\r\n$4\r\nPING\r\n"},
	} {
		if got := Dissector.Probe(A, []byte(tt.data), [2]uint16{50000, 443}); got != dissect.NoMatch {
			t.Errorf("Probe(%s) = %v, want NoMatch", tt.name, got)
		}
	}
}

// TestSplitAnywhere cuts each side's data of the fixtures in two at every offset, and
// into single bytes: the entry is the same.
func TestSplitAnywhere(t *testing.T) {
	for _, name := range fixtureNames {
		ch, sh := fixturePair(t, name)
		script := []chunk{{Side: A, Data: ch}, {Side: B, Data: sh}}
		want := run(t, script)
		dissecttest.EachSplit(script, func(i, cut int, split []chunk) {
			if got := run(t, split); !got.Same(want.Result) {
				t.Fatalf("%s: chunk %d cut at %d:\n got %s\nwant %s", name, i, cut, got.Canonical(t), want.Canonical(t))
			}
		})
		if got := run(t, dissecttest.Resplit(script, 1)); !got.Same(want.Result) {
			t.Errorf("%s: byte by byte:\n got %s\nwant %s", name, got.Canonical(t), want.Canonical(t))
		}
	}
}

// TestRecordFraming re-frames the fixtures' handshake messages: a message spread over
// records of any size, and several messages in one record, give the same entry; only
// the sizes, which count record headers, change.
func TestRecordFraming(t *testing.T) {
	for _, name := range []string{"TLS 1.3", "TLS 1.2"} {
		ch, sh := fixturePair(t, name)
		chMsgs, chRest := unrecord(t, ch)
		shMsgs, shRest := unrecord(t, sh)
		base := run(t, []chunk{{Side: A, Data: ch}, {Side: B, Data: sh}})
		shLen := 4 + be24([]byte(shMsgs[1:4]))
		for _, k := range []int{1, 2, 3, 4, 5, 7, 38, 64, 100, 512, maxPlaintext} {
			r := run(t, []chunk{{Side: A, Data: records(chMsgs, k) + chRest}, {Side: B, Data: records(shMsgs, k) + shRest}})
			checkResult(t, r)
			if len(r.Entries) != 1 {
				t.Fatalf("%s, records of %d: %d entries", name, k, len(r.Entries))
			}
			got, want := *r.Entries[0].TLS, *base.Entries[0].TLS
			nch := (len(chMsgs) + k - 1) / k
			nsh := (shLen + k - 1) / k // records up to the one that completes the ServerHello
			wantReq, wantResp := nch*recordHeaderLen+len(chMsgs), nsh*recordHeaderLen+min(nsh*k, len(shMsgs))
			if got.RequestSize != wantReq || got.ResponseSize != wantResp {
				t.Errorf("%s, records of %d: sizes %d, %d; want %d, %d", name, k, got.RequestSize, got.ResponseSize, wantReq, wantResp)
			}
			got.RequestSize, got.ResponseSize = want.RequestSize, want.ResponseSize
			if describe(&dissect.Entry{TLS: &got}) != describe(&dissect.Entry{TLS: &want}) || r.Entries[0].ErrorType != "" {
				t.Errorf("%s, records of %d:\n got %s\nwant %s", name, k, r.describe()[0], base.describe()[0])
			}
		}
	}
}

func TestOneSide(t *testing.T) {
	ch, sh := fixturePair(t, "TLS 1.3")
	t.Run("ClientHello only", func(t *testing.T) {
		r := run(t, []chunk{{Side: A, Data: ch}})
		checkResult(t, r)
		expect(t, r, "ClientHello sni=alpn.shark.test offered=TLS 1.3 alpn=foo,bar suites=29 -> - req=331 resp=0 client=A !no_response")
		if r.Entries[0].TLS.Version != "TLS 1.3" || r.Entries[0].TLS.Info() != "TLS 1.3, SNI=alpn.shark.test, ALPN offered=foo,bar" {
			t.Errorf("version %q, info %q: want the version the client offered", r.Entries[0].TLS.Version, r.Entries[0].TLS.Info())
		}
	})
	t.Run("ServerHello only", func(t *testing.T) {
		r := run(t, []chunk{{Side: B, Data: sh}})
		checkResult(t, r)
		expect(t, r, "ServerHello -> TLS 1.3 TLS_CHACHA20_POLY1305_SHA256 req=0 resp=127 client=A !no_request")
		if r.Entries[0].Timestamp != dissecttest.At(0) || r.Entries[0].Interface != dissecttest.Iface(B) || r.Entries[0].Elapsed != 0 {
			t.Errorf("timestamp %v, interface %d, elapsed %v", r.Entries[0].Timestamp, r.Entries[0].Interface, r.Entries[0].Elapsed)
		}
	})
	t.Run("nothing", func(t *testing.T) {
		expect(t, run(t, nil))
		expect(t, run(t, []chunk{{Side: A, Data: ch[:8]}}))
		expect(t, run(t, []chunk{{Side: A, Data: "\x14\x03\x03\x00\x01\x01"}, {Side: B, Data: "\x17\x03\x03\x00\x01x"}}))
	})
}

func TestHelloRetryRequest(t *testing.T) {
	var script []chunk
	for _, s := range dissecttest.CaptureScripts(t, "testdata/tls.pcapng", Dissector) {
		if strings.Contains(s[0].Data, "hrr.shark.test") {
			script = s
		}
	}
	if script == nil {
		t.Fatal("no HelloRetryRequest stream in tls.pcapng")
	}
	const want = "ClientHello sni=hrr.shark.test offered=TLS 1.3 suites=31 -> TLS 1.3 TLS_AES_256_GCM_SHA384 retry req=647 resp=259 client=A"
	expect(t, run(t, script), want)
	expect(t, run(t, dissecttest.Resplit(script, 1)), want)
	// The client gives up after the HelloRetryRequest (its first chunk, with the
	// ChangeCipherSpec).
	var cut []chunk
	for _, c := range script {
		cut = append(cut, c)
		if c.Side == B {
			break
		}
	}
	expect(t, run(t, cut), "ClientHello sni=hrr.shark.test offered=TLS 1.3 suites=31 -> - retry req=304 resp=0 client=A !no_response")
}

func TestAlerts(t *testing.T) {
	ch, sh := fixturePair(t, "TLS 1.2")
	warning := "\x15\x03\x03\x00\x02\x01\x70" // unrecognized_name, a warning
	encrypted := "\x15\x03\x03\x00\x1a" + strings.Repeat("\xee", 26)
	expect(t, run(t, []chunk{{Side: A, Data: ch}, {Side: B, Data: warning + encrypted + sh}}),
		"ClientHello sni=alpn12.shark.test offered=TLS 1.2 alpn=foo,bar suites=28 -> TLS 1.2 TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 alpn=bar alert=unrecognized_name req=228 resp=118 client=A")
	// A client's alert, or an alert before any ClientHello, ends nothing.
	expect(t, run(t, []chunk{{Side: B, Data: "\x15\x03\x03\x00\x02\x02\x28"}, {Side: A, Data: ch}, {Side: A, Data: "\x15\x03\x03\x00\x02\x02\x28"}, {Side: B, Data: sh}}),
		"ClientHello sni=alpn12.shark.test offered=TLS 1.2 alpn=foo,bar suites=28 -> TLS 1.2 TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 alpn=bar req=235 resp=87 client=A")
	r := run(t, []chunk{{Side: A, Data: ch}, {Side: B, Data: "\x15\x03\x03\x00\x02\x02\x28"}})
	expect(t, r, "ClientHello sni=alpn12.shark.test offered=TLS 1.2 alpn=foo,bar suites=28 -> - alert=handshake_failure req=228 resp=7 client=A !alert")
	if msg := r.Entries[0].ErrorMessage; msg != "fatal alert handshake_failure (40)" {
		t.Errorf("error message %q", msg)
	}
	if info := r.Entries[0].TLS.Info(); info != "TLS 1.2, SNI=alpn12.shark.test, ALPN offered=foo,bar, alert=handshake_failure" {
		t.Errorf("Info() = %q", info)
	}
}

// emitted feeds chunks without closing the parser and returns what it emitted.
func emitted(t *testing.T, chunks []chunk) []string {
	t.Helper()
	var r result
	p := newParser(func(e *dissect.Entry, client dissect.Side) {
		r.Entries = append(r.Entries, e)
		r.Clients = append(r.Clients, client)
	})
	for i, c := range chunks {
		p.Feed(dissect.Chunk{Side: c.Side, Data: []byte(c.Data), Skipped: c.Skipped, Time: func(int) time.Time { return dissecttest.At(i) }})
	}
	checkResult(t, r)
	return r.describe()
}

func TestGapsAndGarbage(t *testing.T) {
	ch, sh := fixturePair(t, "TLS 1.3")
	earlyData := "\x17\x03\x03\x00\x64" + strings.Repeat("\xee", 100)
	const full = "ClientHello sni=alpn.shark.test offered=TLS 1.3 alpn=foo,bar suites=29 -> TLS 1.3 TLS_CHACHA20_POLY1305_SHA256"
	tests := []struct {
		name   string
		chunks []chunk
		want   string // emitted before Close
	}{
		{"gap of known size inside application data", []chunk{{Side: A, Data: ch + earlyData[:10]}, {Side: A, Data: earlyData[60:], Skipped: 50}, {Side: B, Data: sh}},
			full + " req=436 resp=127 client=A"},
		{"gap of unknown size inside application data", []chunk{{Side: A, Data: ch + earlyData[:10]}, {Side: A, Data: earlyData[60:], Skipped: -1}, {Side: B, Data: sh}},
			full + " req=436 resp=127 client=A"},
		{"gap before the ServerHello", []chunk{{Side: A, Data: ch}, {Side: B, Data: sh, Skipped: -1}},
			"ClientHello sni=alpn.shark.test offered=TLS 1.3 alpn=foo,bar suites=29 -> - req=331 resp=0 client=A !no_response"},
		{"gap inside the ServerHello", []chunk{{Side: A, Data: ch}, {Side: B, Data: sh[:50]}, {Side: B, Data: sh[60:], Skipped: 10}},
			"ClientHello sni=alpn.shark.test offered=TLS 1.3 alpn=foo,bar suites=29 -> TLS 1.2  req=331 resp=127 client=A !truncated"},
		{"gap inside the ClientHello", []chunk{{Side: A, Data: ch[:200]}, {Side: A, Data: ch[210:], Skipped: 10}, {Side: B, Data: sh}},
			"ClientHello sni=alpn.shark.test offered=TLS 1.2 suites=29 -> TLS 1.3 TLS_CHACHA20_POLY1305_SHA256 req=331 resp=127 client=A !truncated"},
		{"ServerHello before the end of the ClientHello", []chunk{{Side: A, Data: ch[:200]}, {Side: B, Data: sh}},
			"ClientHello sni=alpn.shark.test offered=TLS 1.2 suites=29 -> TLS 1.3 TLS_CHACHA20_POLY1305_SHA256 req=331 resp=127 client=A !truncated"},
		{"server is not TLS", []chunk{{Side: A, Data: ch}, {Side: B, Data: "HTTP/1.1 400 Bad Request\r\n\r\n"}},
			"ClientHello sni=alpn.shark.test offered=TLS 1.3 alpn=foo,bar suites=29 -> - req=331 resp=0 client=A !no_response"},
		{"client garbage after its ClientHello", []chunk{{Side: A, Data: ch + "garbage"}, {Side: B, Data: sh}},
			full + " req=331 resp=127 client=A"},
	}
	for _, tt := range tests {
		got := emitted(t, tt.chunks)
		if strings.Join(got, "\n") != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
	// Close reports what a gap cut.
	r := run(t, []chunk{{Side: A, Data: ch[:200]}, {Side: A, Data: ch[210:], Skipped: 10}})
	expect(t, r, "ClientHello sni=alpn.shark.test offered=TLS 1.2 suites=29 -> - req=331 resp=0 client=A !truncated")
	if msg := r.Entries[0].ErrorMessage; msg != "ClientHello cut by a capture gap; no ServerHello" {
		t.Errorf("error message %q", msg)
	}
	r = run(t, []chunk{{Side: A, Data: ch[:200] + "\x17"}})
	if msg := r.Entries[0].ErrorMessage; msg != "ClientHello cut by the end of the stream; no ServerHello" {
		t.Errorf("error message %q", msg)
	}
	r = run(t, []chunk{{Side: A, Data: ch}, {Side: B, Data: "SSH-2.0-OpenSSH_9.2\r\n"}})
	if msg := r.Entries[0].ErrorMessage; msg != "the server sent bytes that are not TLS records" {
		t.Errorf("error message %q", msg)
	}
}

func TestMalformed(t *testing.T) {
	ch, sh := fixturePair(t, "TLS 1.2")
	hs, _ := unrecord(t, ch)
	// A ClientHello whose cipher_suites vector runs past the message.
	bad := []byte(hs)
	bad[4+2+32+1+int(bad[4+2+32])] = 0xff
	r := run(t, []chunk{{Side: A, Data: records(string(bad), maxPlaintext)}, {Side: B, Data: sh}})
	checkResult(t, r)
	if e := r.Entries[0]; e.ErrorType != dissect.ErrorMalformed || e.ErrorMessage != "ClientHello: fields run past the end of the message" || !e.TLS.HasResponse {
		t.Errorf("got %s (%s)", r.describe()[0], e.ErrorMessage)
	}
	// A hello longer than 64 KiB: what fits is read.
	big := hs[:1] + "\x01\x20\x00" + hs[4:] + strings.Repeat("\x00", 0x12000-len(hs)+4)
	r = run(t, []chunk{{Side: A, Data: records(big, maxPlaintext)}, {Side: B, Data: sh}})
	checkResult(t, r)
	if e := r.Entries[0]; e.ErrorType != dissect.ErrorMalformed || e.ErrorMessage != "hello longer than 64 KiB" || e.TLS.SNI != "alpn12.shark.test" {
		t.Errorf("got %s (%s)", r.describe()[0], e.ErrorMessage)
	}
	// A ServerHello with a broken supported_versions extension.
	shMsgs, rest := unrecord(t, sh)
	sv := "\x00\x2b\x00\x01\x03"
	shBad := shMsgs[:1] + string([]byte{0, byte((be24([]byte(shMsgs[1:4])) + len(sv)) >> 8), byte(be24([]byte(shMsgs[1:4])) + len(sv))})
	body := shMsgs[4 : 4+be24([]byte(shMsgs[1:4]))]
	extLen := be16([]byte(body[2+32+1+int(body[2+32])+3:]))
	i := 2 + 32 + 1 + int(body[2+32]) + 3
	body = body[:i] + string([]byte{byte((extLen + len(sv)) >> 8), byte(extLen + len(sv))}) + body[i+2:] + sv
	r = run(t, []chunk{{Side: A, Data: ch}, {Side: B, Data: records(shBad+body, maxPlaintext) + rest}})
	checkResult(t, r)
	if e := r.Entries[0]; e.ErrorType != dissect.ErrorMalformed || !strings.HasPrefix(e.ErrorMessage, "ServerHello: supported_versions") {
		t.Errorf("got %s (%s)", r.describe()[0], e.ErrorMessage)
	}
}

// TestSkipAfterEntry checks that once the entry is out, the rest of the connection
// costs nothing: no allocation, no entry, whatever the bytes.
func TestSkipAfterEntry(t *testing.T) {
	ch, sh := fixturePair(t, "TLS 1.3")
	n := 0
	p := newParser(func(*dissect.Entry, dissect.Side) { n++ })
	p.Feed(dissect.Chunk{Side: A, Data: []byte(ch), Time: func(int) time.Time { return dissecttest.At(0) }})
	p.Feed(dissect.Chunk{Side: B, Data: []byte(sh), Time: func(int) time.Time { return dissecttest.At(1) }})
	junk := dissect.Chunk{Side: A, Data: []byte(strings.Repeat("\x16\x03\x03\xff\xff\x01", 1000))}
	allocs := testing.AllocsPerRun(100, func() {
		p.Feed(junk)
		junk.Side ^= 1
	})
	p.Close(dissecttest.At(2))
	if allocs != 0 || n != 1 {
		t.Errorf("%v allocations per Feed, %d entries", allocs, n)
	}
}
