package cli

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
	"github.com/kubectl-shark/kubectl-shark/pkg/kfl"
)

func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Execute(t.Context(), args, genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errb})
	return out.String(), errb.String(), code
}

func TestUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"entries"}, "no input: give a capture NAME"},
		{[]string{"entries", "a", "b"}, "at most one capture NAME"},
		{[]string{"entries", "cap", "-r", "x.pcap"}, "not both"},
		{[]string{"entries", "-r", "x.pcap", "-o", "yaml"}, "unknown output format"},
		{[]string{"entries", "-r", "x.pcap", "--follow"}, "apply to captures"},
		{[]string{"export", "-r", "x.pcap"}, "no output: give -w FILE"},
		{[]string{"export", "-r", "x.pcap", "-w", "o", "--format", "json"}, "unknown format"},
		{[]string{"capture"}, "what to capture?"},
		{[]string{"capture", "web"}, "give TYPE/NAME"},
		{[]string{"capture", "svc/web"}, `cannot capture a "svc"`},
		{[]string{"delete"}, "give one capture NAME, or --all"},
	} {
		_, stderr, code := run(t, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", c.args, code, stderr, c.want)
		}
	}
}

func TestBadFilters(t *testing.T) {
	_, stderr, code := run(t, "entries", "-r", "x.pcap", "--kfl", `http && status_code == "500"`)
	if code != 1 || !strings.Contains(stderr, "^") || !strings.Contains(stderr, `status_code == "500"`) {
		t.Errorf("KFL type error: exit %d, %q", code, stderr)
	}
	_, stderr, code = run(t, "export", "-r", "x.pcap", "-w", t.TempDir()+"/o", "--bpf", "tcp prot 80")
	if code != 1 || !strings.Contains(stderr, "tcp prot 80\n    ^") {
		t.Errorf("BPF syntax error: exit %d, %q", code, stderr)
	}
}

func TestFieldsAndVersion(t *testing.T) {
	out, _, code := run(t, "fields")
	if code != 0 || !strings.Contains(out, "status_code") || !strings.Contains(out, "dns_questions") {
		t.Errorf("fields: %d\n%s", code, out)
	}
	out, _, code = run(t, "fields", "-o", "json")
	if code != 0 || !strings.Contains(out, `"name": "http"`) {
		t.Errorf("fields -o json: %d", code)
	}
	out, _, code = run(t, "version")
	if code != 0 || !strings.Contains(out, "sniffer image:") {
		t.Errorf("version: %d %q", code, out)
	}
}

func TestRowWriter(t *testing.T) {
	var b bytes.Buffer
	w := &rowWriter{out: &b}
	lines := `{"id":1,"timestamp":"2026-11-23T10:00:00.5Z","protocol":"HTTP","src.ip":"198.18.0.2","src.port":4000,"dst.ip":"198.18.0.1","dst.port":80,"dst.pod.name":"web-1","method":"GET","url":"/a","status_code":500,"elapsed_time":1500}
{"id":2,"timestamp":"2026-11-23T10:00:01Z","protocol":"DNS","src.ip":"198.18.0.2","src.port":5000,"dst.ip":"198.19.0.10","dst.port":53,"dst.service.name":"kube-dns","dns_questions":["web.svc.test"],"dns_question_types":["A"],"dns_response":true,"status_code":3,"dns_answers":[]}
`
	// Split anywhere: lines are assembled before they are printed.
	for i := 0; i < len(lines); i += 7 {
		end := min(i+7, len(lines))
		if _, err := w.Write([]byte(lines[i:end])); err != nil {
			t.Fatal(err)
		}
	}
	out := b.String()
	for _, want := range []string{"GET /a", "500", "web-1", "1.50ms", "A web.svc.test", "NXDOMAIN", "svc/kube-dns", "198.18.0.2:4000"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\n"); n != 3 {
		t.Errorf("%d lines, want a header and 2 rows:\n%s", n, out)
	}
}

func TestPrintable(t *testing.T) {
	if got := printable("GET /\x1b[31mred"); strings.ContainsRune(got, 0x1b) {
		t.Errorf("an escape sequence reaches the terminal: %q", got)
	}
	if got := printable("GET /ünïcode"); got != "GET /ünïcode" {
		t.Errorf("printable text changed: %q", got)
	}
}

// TestTLSRows checks that both table renderers, the offline one (from entries) and the
// NDJSON one (from KFL variables), show a TLS handshake alike: the summary and SNI as
// the request, the version, cipher suite and ALPN (or the alert) as the status.
func TestTLSRows(t *testing.T) {
	hs := &dissect.TLS{Summary: "ClientHello", Version: "TLS 1.2", Cipher: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
		CipherSuite: 0xc02f, SNI: "shop.example.com", ALPN: "h2", ClientALPN: []string{"h2", "http/1.1"},
		ClientVersion: "TLS 1.3", CipherSuites: 17, HasRequest: true, HasResponse: true, RequestSize: 517, ResponseSize: 90}
	alert := &dissect.TLS{Summary: "ClientHello", Version: "TLS 1.3", SNI: "old.example.com", ClientVersion: "TLS 1.3",
		Alert: "protocol_version", HasRequest: true, RequestSize: 250, ResponseSize: 7}
	hello := &dissect.TLS{Summary: "ClientHello", Version: "TLS 1.3", ClientVersion: "TLS 1.3", HasRequest: true, RequestSize: 250}
	serverOnly := &dissect.TLS{Summary: "ServerHello", Version: "TLS 1.3", Cipher: "TLS_AES_128_GCM_SHA256", CipherSuite: 0x1301,
		HasResponse: true, ResponseSize: 90}
	for _, tt := range []struct {
		tls         *dissect.TLS
		req, status string
	}{
		{hs, "ClientHello shop.example.com", "TLS 1.2 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 h2"},
		{alert, "ClientHello old.example.com", "alert protocol_version"},
		{hello, "ClientHello", "-"},
		{serverOnly, "ServerHello", "TLS 1.3 TLS_AES_128_GCM_SHA256"},
	} {
		e := &dissect.Entry{ID: 1, Protocol: dissect.ProtoTLS, Transport: dissect.TransportTCP, TLS: tt.tls,
			Src:       dissect.Endpoint{IP: netip.MustParseAddr("198.18.0.2"), Port: 40000},
			Dst:       dissect.Endpoint{IP: netip.MustParseAddr("198.18.0.1"), Port: 443},
			Timestamp: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
		req, status, _, _ := describe(e)
		var m map[string]any
		if err := json.Unmarshal(kfl.AppendJSON(nil, &kfl.Record{Entry: e}), &m); err != nil {
			t.Fatal(err)
		}
		jreq, jstatus := describeJSON(m)
		if req != tt.req || status != tt.status || jreq != tt.req || jstatus != tt.status {
			t.Errorf("%+v:\n offline %q, %q\n NDJSON  %q, %q\n want    %q, %q", tt.tls, req, status, jreq, jstatus, tt.req, tt.status)
		}
	}
}

// TestEntriesTLS lists the TLS handshakes of the tls package's capture with the
// filter users type.
func TestEntriesTLS(t *testing.T) {
	out, stderr, code := run(t, "entries", "-r", "../../pkg/dissect/tls/testdata/tls.pcapng", "--kfl", `tls && tls_summary == "ClientHello"`)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"ClientHello shark.test", "TLS 1.3 TLS_AES_256_GCM_SHA384", "ClientHello hrr.shark.test", "alert protocol_version"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\n"); n != 12 || !strings.Contains(stderr, "11 of 22 entries matched") {
		t.Errorf("%d lines, want a header and 11 rows:\n%s\n%s", n, out, stderr)
	}
}
