package fifo

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect/protocols"
	"github.com/kubectl-shark/kubectl-shark/pkg/offline"
)

// appendEntryJSON must write exactly what json.Marshal writes: entries of every
// dissector's test capture, and hand-made ones with the awkward values.
func TestEntryJSONMatchesEncodingJSON(t *testing.T) {
	if entryCodec.fields == nil {
		t.Fatal("dissect.Entry uses struct tags, embedding or custom marshalling: update entryjson.go")
	}
	for _, pat := range []string{"../../dissect/*/testdata/*.pcap", "../../dissect/*/testdata/*.pcapng"} {
		files, _ := filepath.Glob(pat)
		for _, file := range files {
			cfg := protocols.Config()
			entries, _, err := offline.Entries(context.Background(), offline.Input{Path: file}, cfg, nil)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if len(entries) == 0 {
				t.Fatalf("%s: no entries", file)
			}
			for _, e := range entries {
				checkEntryJSON(t, e)
			}
		}
	}
	t0 := time.Date(2026, 3, 14, 22, 0, 0, 123456789, time.UTC)
	for _, e := range []*dissect.Entry{
		{},
		{ID: 1<<64 - 1, Index: -1, Stream: 7, Protocol: dissect.ProtoHTTP, Transport: dissect.TransportTCP,
			Src:       dissect.Endpoint{IP: netip.MustParseAddr("2001:db8::1"), Port: 80},
			Dst:       dissect.Endpoint{IP: netip.MustParseAddr("::ffff:10.0.0.1"), Port: 65535},
			Timestamp: t0.In(time.FixedZone("x", 3600)), Elapsed: -5, Interface: 3, CaptureSource: "ebpf_tls", LocalIsSrc: true,
			HTTP: &dissect.HTTP{Method: "GET", URL: "/a?<b>&c", Query: map[string]string{"z": "1", "a": "\u2028", "m": "\xff\xfe"},
				Request:  dissect.HTTPMessage{Headers: map[string]string{"x-tab": "a\tb\x00\x1f\x7f", "quote": `"\`}, Cookies: map[string]string{}},
				Response: dissect.HTTPMessage{HeadersSize: 10, BodySize: 20}},
			ErrorType: "gap", ErrorMessage: "caf\u00e9 <script> & \u2029"},
		{Protocol: dissect.ProtoDNS, DNS: &dissect.DNS{Questions: []string{}, Answers: []string{"a", "b"}, RCodeName: "NXDOMAIN"}},
		{Protocol: dissect.ProtoRedis, Redis: &dissect.Redis{Type: "SET", Command: "SET k \x80v", ReplyIsError: true}},
		{Protocol: dissect.ProtoTCP, Conn: &dissect.Conn{State: dissect.ConnInProgress, First: t0, L7Detected: []string{"HTTP"}, MissingBytes: 3}},
	} {
		checkEntryJSON(t, e)
	}
}

func checkEntryJSON(t *testing.T, e *dissect.Entry) {
	t.Helper()
	want, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	got, err := appendEntryJSON(nil, e)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("appendEntryJSON:\n%s\njson.Marshal:\n%s", got, want)
	}
}

// An entry json.Marshal cannot encode fails the same way.
func TestEntryJSONError(t *testing.T) {
	e := &dissect.Entry{Timestamp: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := json.Marshal(e); err == nil {
		t.Fatal("json.Marshal accepted year 10000")
	}
	if _, err := appendEntryJSON(nil, e); err == nil {
		t.Fatal("appendEntryJSON accepted year 10000")
	}
}

func BenchmarkEntryJSON(b *testing.B) {
	entries, _, err := offline.Entries(context.Background(), offline.Input{Path: "../../dissect/http/testdata/nginx.pcap"}, protocols.Config(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("appendEntryJSON", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			for _, e := range entries {
				buf, _ = appendEntryJSON(buf[:0], e)
			}
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, e := range entries {
				_, _ = json.Marshal(e)
			}
		}
	})
}

// appendString must escape any string as encoding/json does.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "<a href=\"x\">&amp;</a>", "tab\there\x00\x1f\x7f", "\xff\xfe", "\u2028\u2029", "caf\u00e9 \U0001F600", "\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("appendString(%q) = %s, json.Marshal: %s", s, got, want)
		}
	})
}
