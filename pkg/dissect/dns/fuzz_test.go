package dns

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
)

// capturePayloads returns the UDP and TCP payloads of testdata/dns.pcap, in order.
func capturePayloads(t testing.TB) (udp, tcp [][]byte) {
	t.Helper()
	f, err := os.Open("testdata/dns.pcap")
	if err != nil {
		t.Fatalf("opening capture (testdata/gen.sh records it): %v", err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	for {
		data, _, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		pkt := gopacket.NewPacket(data, r.LinkType(), gopacket.NoCopy)
		if l := pkt.Layer(layers.LayerTypeUDP); l != nil {
			udp = append(udp, l.(*layers.UDP).Payload)
		}
		if l := pkt.Layer(layers.LayerTypeTCP); l != nil && len(l.(*layers.TCP).Payload) > 0 {
			tcp = append(tcp, l.(*layers.TCP).Payload)
		}
	}
	if len(udp) == 0 || len(tcp) == 0 {
		t.Fatal("capture holds no UDP or no TCP payload")
	}
	return udp, tcp
}

// FuzzParseMessage checks that the decoder never panics, keeps its bounds, and agrees
// with gopacket's DNS decoder on messages both decode without error.
func FuzzParseMessage(f *testing.F) {
	udp, tcp := capturePayloads(f)
	for _, p := range udp {
		f.Add(p)
	}
	for _, p := range tcp {
		if len(p) > 2 {
			f.Add(p[2:])
		}
	}
	f.Add(newMsg(1, 0, 1, 0, 0, 0).raw(1, 'a').ptr(17).ptr(12).u16(1).u16(1).b)
	f.Fuzz(func(t *testing.T, b []byte) {
		m := parseMessage(b)
		if len(m.questions) > maxQuestions || len(m.answers) > maxAnswers || m.consumed > len(b) || m.length != len(b) {
			t.Fatalf("bounds: %d questions, %d answers, consumed %d of %d", len(m.questions), len(m.answers), m.consumed, len(b))
		}
		for _, a := range m.answers {
			if len(a) > maxAnswerText+4 {
				t.Fatalf("answer of %d bytes", len(a))
			}
		}
		if m.err != nil || len(b) < headerLen {
			return
		}
		var g layers.DNS
		if err := g.DecodeFromBytes(b, gopacket.NilDecodeFeedback); err != nil {
			return
		}
		if g.ID != m.id || len(g.Questions) != int(m.qdcount) {
			t.Fatalf("gopacket id %d/%d questions, ours %d/%d", g.ID, len(g.Questions), m.id, m.qdcount)
		}
		for i, q := range m.questions {
			if plainName(g.Questions[i].Name) && !strings.Contains(q.name, `\`) && string(g.Questions[i].Name) != q.name {
				t.Fatalf("question %d: gopacket %q, ours %q", i, g.Questions[i].Name, q.name)
			}
		}
		for i, a := range g.Answers {
			if i >= len(m.answers) {
				break
			}
			switch a.Type {
			case layers.DNSTypeA, layers.DNSTypeAAAA:
				if a.IP != nil && a.IP.String() != m.answers[i] && len(a.Data) == len(a.IP) {
					t.Fatalf("answer %d: gopacket %v, ours %q", i, a.IP, m.answers[i])
				}
			case layers.DNSTypeCNAME:
				if plainName(a.CNAME) && !strings.Contains(m.answers[i], `\`) && string(a.CNAME) != m.answers[i] {
					t.Fatalf("answer %d: gopacket %q, ours %q", i, a.CNAME, m.answers[i])
				}
			}
		}
	})
}

// plainName reports whether a name needs no escaping (so both decoders print it alike).
func plainName(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// FuzzTCPParser feeds arbitrary bytes as the two sides of a connection, cut into
// chunks (some after gaps) as ctl says, and checks that nothing panics, every entry is
// well formed and buffers stay bounded.
func FuzzTCPParser(f *testing.F) {
	_, tcp := capturePayloads(f)
	var stream []byte
	for _, p := range tcp {
		stream = append(stream, p...)
	}
	f.Add(stream, uint64(0))
	f.Add(stream, uint64(0x9e3779b97f4a7c15))
	client, server := tcpConversation()
	f.Add(append(client, server...), uint64(12345))
	f.Fuzz(func(t *testing.T, data []byte, ctl uint64) {
		var c collector
		p := TCP.NewParser(c.Emit).(*tcpParser)
		rng := ctl | 1
		for len(data) > 0 {
			rng ^= rng << 13
			rng ^= rng >> 7
			rng ^= rng << 17
			n := int(rng%97) + 1
			if n > len(data) {
				n = len(data)
			}
			ch := chunk(dissect.Side(rng>>8&1), data[:n], at(int(rng>>16&0xff)))
			if rng>>24&0xf == 0 {
				ch.Skipped = int(rng>>28&0xff) - 1
			}
			p.Feed(ch)
			data = data[n:]
			for _, s := range p.sides {
				if len(s.buf) > 2+65535 || len(s.waiting) > maxWaiting {
					t.Fatalf("buffer %d bytes, %d waiting", len(s.buf), len(s.waiting))
				}
			}
		}
		p.Close(at(1000))
		checkEntries(t, &c)
	})
}

// FuzzUDPParser feeds datagrams cut from data and checks the entries.
func FuzzUDPParser(f *testing.F) {
	udp, _ := capturePayloads(f)
	for i := 0; i+4 <= len(udp); i += 4 {
		// Two exchanges per seed keeps inputs small enough to minimise quickly.
		var all, lens []byte
		for _, p := range udp[i : i+4] {
			all = append(all, p...)
			lens = append(lens, byte(len(p)))
		}
		f.Add(all, lens)
	}
	f.Fuzz(func(t *testing.T, data, lens []byte) {
		var c collector
		p := UDP.NewParser(c.Emit)
		for i, n := range lens {
			if int(n) > len(data) {
				n = byte(len(data))
			}
			p.Datagram(dissect.Side(i&1), data[:n], at(i*100), 0)
			data = data[n:]
		}
		p.Close(at(len(lens) * 100))
		checkEntries(t, &c)
	})
}

func checkEntries(t *testing.T, c *collector) {
	t.Helper()
	for _, e := range c.Entries {
		d := e.DNS
		if e.Protocol != dissect.ProtoDNS || d == nil || (!d.HasRequest && !d.HasResponse) {
			t.Fatalf("bad entry %+v", e)
		}
		if d.HasRequest && d.RequestLength < headerLen || d.HasResponse && d.ResponseLength < headerLen {
			t.Fatalf("lengths %d/%d", d.RequestLength, d.ResponseLength)
		}
		if len(d.Questions) != len(d.QuestionTypes) || e.Elapsed < 0 || e.Elapsed > 0 && !(d.HasRequest && d.HasResponse) {
			t.Fatalf("bad entry %+v %+v", e, d)
		}
	}
}

func BenchmarkParseMessage(b *testing.B) {
	msg := l4Payload(b, fromTcpdumpX(b, tcpResponseSRV))[2:]
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		_ = parseMessage(msg)
	}
}

// BenchmarkUDPExchange measures one query and its response through a flow's parser.
func BenchmarkUDPExchange(b *testing.B) {
	q := l4Payload(b, fromTcpdumpX(b, udpQueryAlias))
	r := l4Payload(b, fromTcpdumpX(b, udpResponseAlias))
	p := UDP.NewParser(func(*dissect.Entry, dissect.Side) {})
	b.SetBytes(int64(len(q) + len(r)))
	b.ReportAllocs()
	now := t0
	for b.Loop() {
		p.Datagram(dissect.SideA, q, now, 0)
		p.Datagram(dissect.SideB, r, now, 0)
		now = now.Add(time.Microsecond)
	}
}

// BenchmarkTCPStream measures three pipelined exchanges over TCP, each side in
// 7-byte chunks (so most messages are reassembled from several chunks).
func BenchmarkTCPStream(b *testing.B) {
	client, server := tcpConversation()
	var chunks []dissect.Chunk
	for _, side := range []dissect.Side{dissect.SideA, dissect.SideB} {
		data := [2][]byte{client, server}[side]
		for i := 0; i < len(data); i += 7 {
			chunks = append(chunks, chunk(side, data[i:min(i+7, len(data))], t0))
		}
	}
	p := TCP.NewParser(func(*dissect.Entry, dissect.Side) {})
	b.SetBytes(int64(len(client) + len(server)))
	b.ReportAllocs()
	for b.Loop() {
		for _, c := range chunks {
			p.Feed(c)
		}
	}
}

// BenchmarkReplay measures the whole pipeline (decode, flow tracking, reassembly,
// DNS) on the recorded capture.
func BenchmarkReplay(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = replay(b, "testdata/dns.pcap")
	}
}
