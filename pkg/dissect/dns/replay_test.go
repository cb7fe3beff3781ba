package dns

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect/internal/dissecttest"
)

// replay runs a capture through a pipeline with the DNS dissectors.
func replay(t testing.TB, path string) []*dissect.Entry {
	t.Helper()
	entries, _ := dissecttest.Replay(t, path, dissect.Config{
		UDP: []dissect.UDPDissector{UDP},
		TCP: []dissect.TCPDissector{TCP},
	})
	return entries
}

// tsharkMessage is one DNS message as tshark dissected it (testdata/dns.tshark.txt).
type tsharkMessage struct {
	frame    int
	time     time.Time
	srcPort  uint16
	tcp      bool
	id       uint16
	response bool
	name     string
	qtype    string
	rcode    int
	answers  []string
	used     bool
}

func readTshark(t *testing.T, path string) []*tsharkMessage {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading tshark golden (testdata/gen.sh writes it): %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	header := strings.Split(lines[0], "|")
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	// Answer fields by record type.
	fieldOf := map[string]string{
		"1": "dns.a", "28": "dns.aaaa", "5": "dns.cname", "15": "dns.mx.mail_exchange",
		"16": "dns.txt", "33": "dns.srv.target", "12": "dns.ptr.domain_name", "2": "dns.ns", "6": "dns.soa.mname",
	}
	var msgs []*tsharkMessage
	for _, line := range lines[1:] {
		f := strings.Split(line, "|")
		if len(f) != len(header) {
			t.Fatalf("tshark line %q: %d fields", line, len(f))
		}
		get := func(name string) string {
			i, ok := col[name]
			if !ok {
				t.Fatalf("tshark golden has no column %s", name)
			}
			return f[i]
		}
		list := func(name string) []string {
			if v := get(name); v != "" {
				return strings.Split(v, ";")
			}
			return nil
		}
		atoi := func(s string) int {
			n, err := strconv.ParseInt(s, 0, 64)
			if err != nil {
				t.Fatalf("tshark line %q: %v", line, err)
			}
			return int(n)
		}
		m := &tsharkMessage{
			frame: atoi(get("frame.number")), id: uint16(atoi(get("dns.id"))),
			response: get("dns.flags.response") == "1", name: get("dns.qry.name"),
			qtype: TypeName(uint16(atoi(get("dns.qry.type")))),
		}
		sec, frac, _ := strings.Cut(get("frame.time_epoch"), ".")
		m.time = time.Unix(int64(atoi(sec)), int64(atoi(strings.TrimLeft(frac, "0")+"0")/10)).UTC()
		if p := get("udp.srcport"); p != "" {
			m.srcPort = uint16(atoi(p))
		} else {
			m.srcPort, m.tcp = uint16(atoi(get("tcp.srcport"))), true
		}
		if m.response {
			m.rcode = atoi(get("dns.flags.rcode"))
			types := list("dns.resp.type")
			n := atoi(get("dns.count.answers"))
			if n > len(types) {
				t.Fatalf("tshark line %q: %d answers, %d types", line, n, len(types))
			}
			queues := map[string][]string{}
			perType := map[string]int{}
			for _, typ := range types[:n] {
				perType[typ]++
			}
			for typ := range perType {
				field, ok := fieldOf[typ]
				if !ok {
					t.Fatalf("tshark line %q: no field for answer type %s", line, typ)
				}
				queues[typ] = list(field)
			}
			if k := perType["16"]; k == 1 && len(queues["16"]) > 1 {
				// One TXT record with several strings: the dissector concatenates them.
				queues["16"] = []string{strings.Join(queues["16"], "")}
			}
			for _, typ := range types[:n] {
				q := queues[typ]
				if len(q) == 0 {
					t.Fatalf("tshark line %q: missing %s value", line, fieldOf[typ])
				}
				m.answers = append(m.answers, q[0])
				queues[typ] = q[1:]
			}
		}
		msgs = append(msgs, m)
	}
	return msgs
}

func TestReplayDNS(t *testing.T) {
	entries := replay(t, "testdata/dns.pcap")
	dissecttest.CheckGolden(t, filepath.Join("testdata", "dns.golden.json"), dissecttest.GoldenJSON(t, entries, true))

	// Cross-check with tshark: every message tshark saw is in exactly one entry, with
	// the same transaction ID, question, client port, times, rcode and answers.
	msgs := readTshark(t, "testdata/dns.tshark.txt")
	find := func(e *dissect.Entry, response bool) *tsharkMessage {
		for _, m := range msgs {
			if !m.used && m.response == response && m.id == e.DNS.TransactionID && m.tcp == (e.Transport == dissect.TransportTCP) &&
				len(e.DNS.Questions) > 0 && m.name == e.DNS.Questions[0] && m.qtype == e.DNS.QuestionTypes[0] {
				m.used = true
				return m
			}
		}
		return nil
	}
	var queries, responses, udp, tcp int
	for _, e := range entries {
		d := e.DNS
		if e.Protocol != dissect.ProtoDNS || d == nil {
			t.Fatalf("entry %d: protocol %q", e.ID, e.Protocol)
		}
		if e.Transport == dissect.TransportTCP {
			tcp++
		} else {
			udp++
		}
		if e.ErrorType != "" || !d.HasRequest || !d.HasResponse {
			t.Errorf("entry %d (%v): every query of the capture is answered, got %q request=%v response=%v",
				e.ID, d.Questions, e.ErrorType, d.HasRequest, d.HasResponse)
			continue
		}
		q, r := find(e, false), find(e, true)
		if q == nil || r == nil {
			t.Errorf("entry %d (%#04x %v): tshark query %v response %v", e.ID, d.TransactionID, d.Questions, q != nil, r != nil)
			continue
		}
		queries++
		responses++
		if e.Src.Port != q.srcPort || e.Dst.Port != r.srcPort {
			t.Errorf("entry %d: %v → %v, tshark query from port %d, response from %d", e.ID, e.Src, e.Dst, q.srcPort, r.srcPort)
		}
		if !e.Timestamp.Equal(q.time) || e.Elapsed != r.time.Sub(q.time) {
			t.Errorf("entry %d: at %v after %v; tshark frames %d at %v and %d at %v", e.ID, e.Timestamp, e.Elapsed, q.frame, q.time, r.frame, r.time)
		}
		if d.RCode != r.rcode || strings.Join(d.Answers, ",") != strings.Join(r.answers, ",") {
			t.Errorf("entry %d (%v): rcode %d answers %q; tshark rcode %d answers %q", e.ID, d.Questions, d.RCode, d.Answers, r.rcode, r.answers)
		}
		if len(d.Questions) != 1 || len(d.QuestionTypes) != 1 {
			t.Errorf("entry %d: questions %q types %q", e.ID, d.Questions, d.QuestionTypes)
		}
	}
	for _, m := range msgs {
		if !m.used {
			t.Errorf("tshark frame %d (%#04x %s %s response=%v) is in no entry", m.frame, m.id, m.name, m.qtype, m.response)
		}
	}
	if queries == 0 || udp == 0 || tcp == 0 {
		t.Errorf("capture should hold UDP and TCP exchanges: %d UDP, %d TCP entries", udp, tcp)
	}
	t.Logf("%d entries (%d UDP, %d TCP) match tshark's %d messages", len(entries), udp, tcp, len(msgs))
}
