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

// TestEntryRows checks that a file (entries -r: writeEntries) and a capture (the
// sniffers' NDJSON, kfl.AppendJSON, through rowWriter) print the same entries as the
// same table, and what the request and status columns show for each protocol: for TLS
// the summary and SNI as the request, the version, cipher suite and ALPN (or the alert)
// as the status; for TCP/UDP records the packets and bytes each way.
func TestEntryRows(t *testing.T) {
	hs := &dissect.TLS{Summary: "ClientHello", Version: "TLS 1.2", Cipher: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
		CipherSuite: 0xc02f, SNI: "shop.example.com", ALPN: "h2", ClientALPN: []string{"h2", "http/1.1"},
		ClientVersion: "TLS 1.3", CipherSuites: 17, HasRequest: true, HasResponse: true, RequestSize: 517, ResponseSize: 90}
	alert := &dissect.TLS{Summary: "ClientHello", Version: "TLS 1.3", SNI: "old.example.com", ClientVersion: "TLS 1.3",
		Alert: "protocol_version", HasRequest: true, RequestSize: 250, ResponseSize: 7}
	hello := &dissect.TLS{Summary: "ClientHello", Version: "TLS 1.3", ClientVersion: "TLS 1.3", HasRequest: true, RequestSize: 250}
	serverOnly := &dissect.TLS{Summary: "ServerHello", Version: "TLS 1.3", Cipher: "TLS_AES_128_GCM_SHA256", CipherSuite: 0x1301,
		HasResponse: true, ResponseSize: 90}
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	var entries []*dissect.Entry
	for i, tt := range []struct {
		e           dissect.Entry
		req, status string
	}{
		{dissect.Entry{Protocol: dissect.ProtoHTTP, Transport: dissect.TransportTCP, Elapsed: 1500 * time.Microsecond,
			HTTP: &dissect.HTTP{Method: "GET", URL: "/a?b=1", Path: "/a", StatusCode: 503, StatusText: "Service Unavailable",
				HasRequest: true, HasResponse: true}},
			"GET /a?b=1", "503"},
		{dissect.Entry{Protocol: dissect.ProtoHTTP, Transport: dissect.TransportTCP,
			HTTP: &dissect.HTTP{StatusCode: 200, HasResponse: true}},
			"-", "200"},
		{dissect.Entry{Protocol: dissect.ProtoDNS, Transport: dissect.TransportUDP, Elapsed: 300 * time.Microsecond,
			DNS: &dissect.DNS{Questions: []string{"web.svc.test"}, QuestionTypes: []string{"A"}, Answers: []string{"198.19.0.1", "198.19.0.2"},
				RCodeName: "NOERROR", HasRequest: true, HasResponse: true, RequestLength: 30, ResponseLength: 62}},
			"A web.svc.test", "NOERROR 198.19.0.1,198.19.0.2"},
		{dissect.Entry{Protocol: dissect.ProtoDNS, Transport: dissect.TransportUDP,
			DNS: &dissect.DNS{Questions: []string{"nope.test"}, QuestionTypes: []string{"AAAA"}, RCode: 3, RCodeName: "NXDOMAIN",
				HasRequest: true, HasResponse: true}},
			"AAAA nope.test", "NXDOMAIN"},
		{dissect.Entry{Protocol: dissect.ProtoRedis, Transport: dissect.TransportTCP, Elapsed: 2 * time.Second,
			Redis: &dissect.Redis{Type: "GET", Command: "GET session:1", Key: "session:1", Reply: "(nil)",
				HasRequest: true, HasResponse: true, RequestSize: 31, ResponseSize: 5}},
			"GET session:1", "5 B reply"},
		{dissect.Entry{Protocol: dissect.ProtoTLS, Transport: dissect.TransportTCP, TLS: hs}, "ClientHello shop.example.com", "TLS 1.2 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 h2"},
		{dissect.Entry{Protocol: dissect.ProtoTLS, Transport: dissect.TransportTCP, TLS: alert}, "ClientHello old.example.com", "alert protocol_version"},
		{dissect.Entry{Protocol: dissect.ProtoTLS, Transport: dissect.TransportTCP, TLS: hello}, "ClientHello", "-"},
		{dissect.Entry{Protocol: dissect.ProtoTLS, Transport: dissect.TransportTCP, TLS: serverOnly}, "ServerHello", "TLS 1.3 TLS_AES_128_GCM_SHA256"},
		{dissect.Entry{Protocol: dissect.ProtoTCP, Transport: dissect.TransportTCP, LocalIsSrc: true,
			Conn: &dissect.Conn{State: dissect.ConnClosed, SrcPackets: 10, SrcBytes: 1536, DstPackets: 8, DstBytes: 3 << 20,
				L7Detected: []string{"HTTP"}, First: t0, Last: t0.Add(time.Second)}},
			"10 pkts 1.5 KiB ->, 8 pkts 3.0 MiB <-", "closed HTTP"},
		{dissect.Entry{Protocol: dissect.ProtoUDP, Transport: dissect.TransportUDP, LocalIsSrc: false,
			Conn: &dissect.Conn{State: dissect.ConnOpen, SrcPackets: 2, SrcBytes: 64, DstPackets: 1, DstBytes: 128}},
			"1 pkts 128 B ->, 2 pkts 64 B <-", "open"},
	} {
		e := tt.e
		e.ID, e.Stream = uint64(i+1), dissect.StreamID(i+1)
		e.Src = dissect.Endpoint{IP: netip.MustParseAddr("198.18.0.2"), Port: uint16(40000 + i)}
		e.Dst = dissect.Endpoint{IP: netip.MustParseAddr("2001:db8::1"), Port: 443}
		e.Timestamp = t0.Add(time.Duration(i) * time.Millisecond)
		entries = append(entries, &e)
		var m map[string]any
		if err := json.Unmarshal(kfl.AppendJSON(nil, &kfl.Record{Entry: &e}), &m); err != nil {
			t.Fatal(err)
		}
		if req, status := describeJSON(m); req != tt.req || status != tt.status {
			t.Errorf("%s entry %d: request %q, status %q; want %q, %q", e.Protocol, i, req, status, tt.req, tt.status)
		}
	}

	// -o json is the sniffers' NDJSON, one kfl.AppendJSON object a line.
	var file, want bytes.Buffer
	if err := writeEntries(&file, entries, "json"); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		want.Write(kfl.AppendJSON(nil, &kfl.Record{Entry: e}))
		want.WriteByte('\n')
	}
	if file.String() != want.String() {
		t.Fatalf("-o json:\n%s\nwant the NDJSON of the sniffers:\n%s", file.String(), want.String())
	}
	ndjson := want.Bytes()

	for _, output := range []string{"table", "wide"} {
		file.Reset()
		if err := writeEntries(&file, entries, output); err != nil {
			t.Fatal(err)
		}
		var capture bytes.Buffer
		w := &rowWriter{out: &capture, wide: output == "wide"}
		for line := range bytes.Lines(ndjson) { // as capture.Entries writes them
			if _, err := w.Write(line); err != nil {
				t.Fatal(err)
			}
		}
		if file.String() != capture.String() {
			t.Errorf("-o %s: the file and the capture tables differ:\nfile:\n%s\ncapture:\n%s", output, file.String(), capture.String())
		}
		if n := strings.Count(file.String(), "\n"); n != len(entries)+1 {
			t.Errorf("-o %s: %d lines, want a header and %d rows:\n%s", output, n, len(entries), file.String())
		}
		for _, s := range []string{"[2001:db8::1]:443", "1.50ms", "2.000s", "A web.svc.test", "closed HTTP", "ClientHello old.example.com"} {
			if !strings.Contains(file.String(), s) {
				t.Errorf("-o %s lacks %q:\n%s", output, s, file.String())
			}
		}
	}
}

// TestEntriesTLS lists the TLS handshakes of the tls package's capture with the
// filter users type, in the wide table (the narrow one truncates the status column).
func TestEntriesTLS(t *testing.T) {
	out, stderr, code := run(t, "entries", "-r", "../../pkg/dissect/tls/testdata/tls.pcapng", "--kfl", `tls && tls_summary == "ClientHello"`, "-o", "wide")
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
