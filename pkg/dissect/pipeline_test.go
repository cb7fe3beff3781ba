package dissect

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// echoDissector matches every stream whose client starts with "REQ" and emits one
// entry per line pair, recording what it was fed: a minimal protocol to test the
// reassembly glue.
type echoDissector struct{ fed *[2]bytes.Buffer }

func (echoDissector) Protocol() string { return "ECHO" }

func (echoDissector) Probe(_ Side, data []byte, _ [2]uint16) Verdict {
	if len(data) < 3 {
		return NeedMore
	}
	if bytes.HasPrefix(data, []byte("REQ")) || bytes.HasPrefix(data, []byte("RSP")) {
		return Match
	}
	return NoMatch
}

func (d echoDissector) NewParser(emit Emit) StreamParser {
	return &echoParser{d: d, emit: emit}
}

type echoParser struct {
	d      echoDissector
	emit   Emit
	skips  int
	closed bool
}

func (p *echoParser) Feed(c Chunk) {
	if c.Skipped != 0 {
		p.skips++
	}
	p.d.fed[c.Side].Write(c.Data)
	if bytes.Contains(c.Data, []byte("RSP")) {
		p.emit(&Entry{Protocol: "ECHO", Timestamp: c.Time(0)}, SideA)
	}
}

func (p *echoParser) Close(time.Time) { p.closed = true }

// packetBuilder serialises TCP/IPv4/Ethernet frames.
type packetBuilder struct {
	t   *testing.T
	now time.Time
}

type seg struct {
	src, dst      string
	sport, dport  uint16
	seq, ack      uint32
	syn, fin, rst bool
	ackf          bool
	payload       string
	advance       time.Duration
}

func (b *packetBuilder) tcp(s seg) *Packet {
	b.t.Helper()
	b.now = b.now.Add(s.advance + time.Millisecond)
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.ParseIP(s.src).To4(), DstIP: net.ParseIP(s.dst).To4()}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(s.sport), DstPort: layers.TCPPort(s.dport), Seq: s.seq, Ack: s.ack,
		SYN: s.syn, FIN: s.fin, RST: s.rst, ACK: s.ackf, Window: 65535}
	tcp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, tcp, gopacket.Payload(s.payload)); err != nil {
		b.t.Fatal(err)
	}
	data := buf.Bytes()
	return &Packet{Timestamp: b.now, LinkType: layers.LinkTypeEthernet, Data: data, Length: len(data)}
}

const (
	cli = "198.18.0.2"
	srv = "198.18.0.1"
)

func TestPipelineReassembly(t *testing.T) {
	b := &packetBuilder{t: t, now: time.Unix(1700000000, 0)}
	var fed [2]bytes.Buffer
	var entries []*Entry
	p := New(Config{TCP: []TCPDissector{echoDissector{&fed}}, ConnRecords: true}, func(e *Entry) { entries = append(entries, e) })

	pkts := []*Packet{
		b.tcp(seg{src: cli, dst: srv, sport: 40000, dport: 7, seq: 100, syn: true}),
		b.tcp(seg{src: srv, dst: cli, sport: 7, dport: 40000, seq: 500, ack: 101, syn: true, ackf: true}),
		b.tcp(seg{src: cli, dst: srv, sport: 40000, dport: 7, seq: 101, ack: 501, ackf: true}),
		// Out of order: the second half of the request arrives first.
		b.tcp(seg{src: cli, dst: srv, sport: 40000, dport: 7, seq: 105, ack: 501, ackf: true, payload: "-one\n"}),
		b.tcp(seg{src: cli, dst: srv, sport: 40000, dport: 7, seq: 101, ack: 501, ackf: true, payload: "REQ "}),
		// A retransmission of already delivered data.
		b.tcp(seg{src: cli, dst: srv, sport: 40000, dport: 7, seq: 101, ack: 501, ackf: true, payload: "REQ "}),
		b.tcp(seg{src: srv, dst: cli, sport: 7, dport: 40000, seq: 501, ack: 110, ackf: true, payload: "RSP one\n"}),
		b.tcp(seg{src: cli, dst: srv, sport: 40000, dport: 7, seq: 110, ack: 509, ackf: true, fin: true}),
		b.tcp(seg{src: srv, dst: cli, sport: 7, dport: 40000, seq: 509, ack: 111, ackf: true, fin: true}),
		b.tcp(seg{src: cli, dst: srv, sport: 40000, dport: 7, seq: 111, ack: 510, ackf: true}),
		// The same 5-tuple again: a new stream.
		b.tcp(seg{src: cli, dst: srv, sport: 40000, dport: 7, seq: 9000, syn: true, advance: 5 * time.Second}),
	}
	var ids []StreamID
	for _, pkt := range pkts {
		ids = append(ids, p.Packet(pkt))
	}
	p.Flush()

	for i, id := range ids[:10] {
		if id != 1 {
			t.Errorf("packet %d: stream %d, want 1", i, id)
		}
	}
	if ids[10] != 2 {
		t.Errorf("SYN after FIN on the same tuple: stream %d, want a new stream 2", ids[10])
	}
	if got := fed[SideA].String(); got != "REQ -one\n" {
		t.Errorf("client bytes %q, want the reordered, de-duplicated %q", got, "REQ -one\n")
	}
	if got := fed[SideB].String(); got != "RSP one\n" {
		t.Errorf("server bytes %q", got)
	}
	var l7, conns int
	for _, e := range entries {
		switch e.Protocol {
		case "ECHO":
			l7++
			if e.Src.Port != 40000 || e.Dst.Port != 7 || e.Stream != 1 {
				t.Errorf("L7 entry direction/stream wrong: %+v", e)
			}
		case ProtoTCP:
			conns++
			if e.Stream == 1 {
				c := e.Conn
				if c.State != ConnClosed || c.SrcPackets != 7 || c.DstPackets != 3 || c.SrcBytes != 13 || c.DstBytes != 8 {
					t.Errorf("conn record of stream 1: %+v", c)
				}
				if len(c.L7Detected) != 1 || c.L7Detected[0] != "ECHO" {
					t.Errorf("L7 detected %v", c.L7Detected)
				}
			}
		}
	}
	if l7 != 1 || conns != 2 {
		t.Errorf("got %d L7 entries and %d conn records, want 1 and 2", l7, conns)
	}
	st := p.Stats()
	if st.TCPStreams != 2 || st.Packets != uint64(len(pkts)) {
		t.Errorf("stats %+v", st)
	}
}

func TestPipelineMidStreamAndGap(t *testing.T) {
	b := &packetBuilder{t: t, now: time.Unix(1700000000, 0)}
	var fed [2]bytes.Buffer
	var entries []*Entry
	p := New(Config{TCP: []TCPDissector{echoDissector{&fed}}, GapWait: time.Second}, func(e *Entry) { entries = append(entries, e) })
	// No handshake: the capture starts in the middle of the connection, and the
	// server speaks first in the capture.
	p.Packet(b.tcp(seg{src: srv, dst: cli, sport: 7, dport: 40001, seq: 7000, ack: 300, ackf: true, payload: "RSP a\n"}))
	p.Packet(b.tcp(seg{src: cli, dst: srv, sport: 40001, dport: 7, seq: 300, ack: 7006, ackf: true, payload: "REQ b\n"}))
	// A lost segment (seq 306..310), then more data: delivered after GapWait.
	p.Packet(b.tcp(seg{src: cli, dst: srv, sport: 40001, dport: 7, seq: 311, ack: 7006, ackf: true, payload: "REQ c\n"}))
	p.Packet(b.tcp(seg{src: srv, dst: cli, sport: 7, dport: 40001, seq: 7006, ack: 317, ackf: true, payload: "RSP b\n", advance: 3 * time.Second}))
	p.Flush()
	if got := fed[SideA].String(); got != "RSP a\nRSP b\n" {
		t.Errorf("side A (first seen: the server) got %q", got)
	}
	if got := fed[SideB].String(); got != "REQ b\nREQ c\n" {
		t.Errorf("side B got %q, want both requests around the gap", got)
	}
	if s := p.Stats().SkippedBytes; s != 5 {
		t.Errorf("skipped %d bytes, want 5", s)
	}
}

func TestPipelineNonIPAndBounds(t *testing.T) {
	p := New(Config{MaxStreams: 4, ConnRecords: true}, func(*Entry) {})
	// ARP frame, garbage, and a truncated IPv4 header must not panic.
	arp := make([]byte, 42)
	arp[12], arp[13] = 0x08, 0x06
	for _, data := range [][]byte{arp, {1, 2, 3}, append(make([]byte, 12), 0x08, 0x00, 0x45, 0x00)} {
		p.Packet(&Packet{Timestamp: time.Unix(1, 0), LinkType: layers.LinkTypeEthernet, Data: data, Length: len(data)})
	}
	b := &packetBuilder{t: t, now: time.Unix(1700000000, 0)}
	for i := 0; i < 20; i++ {
		p.Packet(b.tcp(seg{src: cli, dst: srv, sport: uint16(41000 + i), dport: 80, seq: 1, syn: true}))
	}
	if len(p.flows) > 5 {
		t.Errorf("%d flows tracked, MaxStreams is 4", len(p.flows))
	}
	st := p.Stats()
	if st.NotIP != 1 || st.Undecodable != 2 || st.EvictedFlows == 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestStreamIDHex(t *testing.T) {
	if got := StreamID(0x1a2b).Hex(); got != "0000000000001a2b" {
		t.Errorf("Hex() = %q", got)
	}
}
