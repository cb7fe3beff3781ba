package dissect

import (
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/reassembly"
)

// Packet is one captured frame handed to a Pipeline.
type Packet struct {
	Timestamp time.Time
	LinkType  layers.LinkType
	Interface int    // capture interface index (pcapng IDB index)
	Data      []byte // captured bytes; valid only during the call
	Length    int    // original length on the wire
}

// Config configures a Pipeline. The zero value dissects nothing but still tracks
// streams and emits L4 records.
type Config struct {
	TCP []TCPDissector
	UDP []UDPDissector

	// IsLocal reports whether an address belongs to the captured peer (the target
	// pod). It decides Entry.LocalIsSrc. Nil means "the client is local".
	IsLocal func(netip.Addr) bool

	// CaptureSource is copied into every entry ("af_packet", "ebpf", ...).
	CaptureSource string

	// ConnRecords makes the pipeline emit one L4 record (Protocol TCP or UDP) per
	// stream when the stream ends.
	ConnRecords bool

	// TCPIdle and UDPIdle close streams without packets for that long (packet time).
	// Defaults: 10 minutes and 30 seconds.
	TCPIdle, UDPIdle time.Duration
	// GapWait is how long reassembly waits for a missing segment before skipping it
	// (packet time). Default 2 seconds.
	GapWait time.Duration
	// MaxBufferedPages bounds out-of-order data held by reassembly (pages of 1900
	// bytes). Default 16384 (~30 MiB).
	MaxBufferedPages int
	// MaxStreams bounds the streams tracked at once. Default 262144.
	MaxStreams int

	// FirstStreamID and FirstEntryID make IDs continue a previous run's (a restarted
	// sniffer): the first stream gets FirstStreamID (default 1), the first entry
	// FirstEntryID (default 1).
	FirstStreamID StreamID
	FirstEntryID  uint64

	// IDs, when set, is shared with other pipelines that write into the same store
	// (a sniffer dissects wire packets and reconstructed TLS plaintext in two
	// pipelines): stream and entry IDs are then unique across all of them.
	// FirstStreamID and FirstEntryID are ignored; set them on the IDs.
	IDs *IDs
}

// IDs hands out stream and entry IDs. Pipelines sharing one must be driven by one
// goroutine at a time (it is not synchronised).
type IDs struct {
	stream StreamID
	entry  uint64
}

// NewIDs returns IDs whose first stream is firstStream and first entry firstEntry
// (0 means 1).
func NewIDs(firstStream StreamID, firstEntry uint64) *IDs {
	ids := &IDs{}
	if firstStream > 0 {
		ids.stream = firstStream - 1
	}
	if firstEntry > 0 {
		ids.entry = firstEntry - 1
	}
	return ids
}

func (ids *IDs) nextStream() StreamID { ids.stream++; return ids.stream }
func (ids *IDs) nextEntry() uint64    { ids.entry++; return ids.entry }

// Stats are the pipeline's counters. Read them with Pipeline.Stats.
type Stats struct {
	Packets      uint64
	Bytes        uint64 // captured bytes
	NotIP        uint64 // frames without IPv4/IPv6 (ARP, ...)
	Undecodable  uint64 // frames whose headers could not be decoded
	Fragments    uint64 // IP fragments (not reassembled)
	OtherL4      uint64 // IP packets that are neither TCP nor UDP
	TCPStreams   uint64
	UDPStreams   uint64
	SkippedBytes uint64 // TCP bytes lost to gaps
	EvictedFlows uint64 // streams closed early because MaxStreams was reached
	Entries      map[string]uint64
	ProbeGiveUps uint64 // TCP streams no dissector recognised
}

// Pipeline turns packets into entries. It is not safe for concurrent use.
type Pipeline struct {
	cfg   Config
	emit  func(*Entry)
	stats Stats

	dec decoder

	flows map[flowKey]*flow
	lru   flowList // most recently active at the front
	ids   *IDs

	assembler *reassembly.Assembler
	lastSweep time.Time
	now       time.Time
}

// New returns a pipeline that calls emit for every finished entry, in emission order
// (entries of one stream in order; L4 records when their stream ends).
func New(cfg Config, emit func(*Entry)) *Pipeline {
	if cfg.TCPIdle <= 0 {
		cfg.TCPIdle = 10 * time.Minute
	}
	if cfg.UDPIdle <= 0 {
		cfg.UDPIdle = 30 * time.Second
	}
	if cfg.GapWait <= 0 {
		cfg.GapWait = 2 * time.Second
	}
	if cfg.MaxBufferedPages <= 0 {
		cfg.MaxBufferedPages = 16384
	}
	if cfg.MaxStreams <= 0 {
		cfg.MaxStreams = 262144
	}
	p := &Pipeline{
		cfg:   cfg,
		emit:  emit,
		flows: make(map[flowKey]*flow),
		stats: Stats{Entries: map[string]uint64{}},
	}
	p.ids = cfg.IDs
	if p.ids == nil {
		p.ids = NewIDs(cfg.FirstStreamID, cfg.FirstEntryID)
	}
	p.dec.init()
	pool := reassembly.NewStreamPool(&streamFactory{p: p})
	p.assembler = reassembly.NewAssembler(pool)
	p.assembler.MaxBufferedPagesTotal = cfg.MaxBufferedPages
	p.assembler.MaxBufferedPagesPerConnection = cfg.MaxBufferedPages / 4
	return p
}

// Stats returns a copy of the counters.
func (p *Pipeline) Stats() Stats {
	s := p.stats
	s.Entries = make(map[string]uint64, len(p.stats.Entries))
	for k, v := range p.stats.Entries {
		s.Entries[k] = v
	}
	return s
}

// Packet dissects one frame and returns the stream it belongs to (0 when it belongs
// to no TCP/UDP stream).
func (p *Pipeline) Packet(pkt *Packet) StreamID {
	p.stats.Packets++
	p.stats.Bytes += uint64(len(pkt.Data))
	if pkt.Timestamp.After(p.now) {
		p.now = pkt.Timestamp
	}
	d := &p.dec
	switch d.decode(pkt.LinkType, pkt.Data) {
	case decodeNotIP:
		p.stats.NotIP++
		return 0
	case decodeBad:
		p.stats.Undecodable++
		return 0
	case decodeFragment:
		p.stats.Fragments++
		return 0
	case decodeOtherL4:
		p.stats.OtherL4++
		return 0
	}
	src := netip.AddrPortFrom(d.srcIP, d.srcPort)
	dst := netip.AddrPortFrom(d.dstIP, d.dstPort)
	key := makeFlowKey(src, dst, d.proto)
	f := p.flows[key]
	ts := pkt.Timestamp

	if f != nil && d.proto == TransportTCP && d.tcp.SYN && !d.tcp.ACK && f.closed() {
		// A new connection on a reused 5-tuple.
		p.finalize(f)
		f = nil
	}
	if f == nil {
		f = p.newFlow(key, src, dst, d.proto, ts, pkt.Interface)
	}
	side := SideA
	if src != f.ends[SideA] {
		side = SideB
	}
	f.pkts[side]++
	f.last = ts
	p.lru.moveToFront(f)

	switch d.proto {
	case TransportTCP:
		t := &d.tcp
		f.bytes[side] += uint64(len(t.Payload))
		if t.SYN && !t.ACK && !f.clientKnown {
			f.client, f.clientKnown = side, true
		}
		if t.SYN {
			f.syn[side] = true
		}
		if t.FIN {
			f.fin[side] = true
		}
		if t.RST {
			f.rst = true
		}
		if f.closed() && f.closedAt.IsZero() {
			f.closedAt = ts
		}
		ctx := assemblerContext{ci: gopacket.CaptureInfo{
			Timestamp: ts, CaptureLength: len(pkt.Data), Length: pkt.Length, InterfaceIndex: pkt.Interface,
		}, flow: f}
		p.assembler.AssembleWithContext(d.netFlow(), t, &ctx)
	case TransportUDP:
		payload := d.udp.Payload
		f.bytes[side] += uint64(len(payload))
		if !f.udpProbed {
			f.udpProbed = true
			for _, u := range p.cfg.UDP {
				if u.Probe(side, payload, f.ports()) {
					f.udp = u.NewParser(p.emitter(f))
					break
				}
			}
		}
		if f.udp != nil {
			f.udp.Datagram(side, payload, ts, pkt.Interface)
		}
	}
	id := f.id
	p.maybeSweep(ts)
	return id
}

// Advance tells the pipeline that time has moved on without packets (a live capture
// on a quiet interface), so idle streams close and lost segments are skipped.
func (p *Pipeline) Advance(now time.Time) {
	if now.After(p.now) {
		p.now = now
	}
	p.maybeSweep(now)
}

// Flush ends the input: pending data is pushed through the parsers, every stream is
// closed and its L4 record emitted.
func (p *Pipeline) Flush() {
	p.assembler.FlushAll()
	for f := p.lru.back(); f != nil; f = p.lru.back() {
		p.finalize(f)
	}
}

// maybeSweep runs housekeeping once per second of packet time: skip reassembly gaps
// older than GapWait, close idle streams, finalize closed ones.
func (p *Pipeline) maybeSweep(now time.Time) {
	if now.Sub(p.lastSweep) < time.Second && len(p.flows) <= p.cfg.MaxStreams {
		return
	}
	p.lastSweep = now
	p.assembler.FlushWithOptions(reassembly.FlushOptions{T: now.Add(-p.cfg.GapWait), TC: now.Add(-p.cfg.TCPIdle)})
	for f := p.lru.back(); f != nil; {
		prev := f.prev
		idle := now.Sub(f.last)
		switch {
		case len(p.flows) > p.cfg.MaxStreams:
			p.stats.EvictedFlows++
			p.finalize(f)
		case !f.closedAt.IsZero() && now.Sub(f.closedAt) >= time.Second:
			p.finalize(f)
		case f.proto == TransportUDP && idle >= p.cfg.UDPIdle:
			p.finalize(f)
		case f.proto == TransportTCP && idle >= p.cfg.TCPIdle:
			p.finalize(f)
		case idle < time.Second:
			// The list is ordered by activity: everything further up is more recent
			// than anything that could expire (closed flows linger one second).
			return
		}
		f = prev
	}
}

func (p *Pipeline) newFlow(key flowKey, src, dst netip.AddrPort, proto Transport, ts time.Time, iface int) *flow {
	f := &flow{id: p.ids.nextStream(), key: key, proto: proto, first: ts, last: ts, iface: iface}
	f.ends[SideA], f.ends[SideB] = src, dst
	p.flows[key] = f
	p.lru.pushFront(f)
	if proto == TransportTCP {
		p.stats.TCPStreams++
	} else {
		p.stats.UDPStreams++
	}
	return f
}

// finalize forgets a flow: its TCP parser is closed (if reassembly has not closed it
// yet), its UDP parser closed, and its L4 record emitted.
func (p *Pipeline) finalize(f *flow) {
	if f.finalized {
		return
	}
	f.finalized = true
	p.lru.remove(f)
	if p.flows[f.key] == f {
		delete(p.flows, f.key)
	}
	if f.tcp != nil {
		f.tcp.close(f.last)
	}
	if f.udp != nil {
		f.udp.Close(f.last)
	}
	if p.cfg.ConnRecords {
		p.emitConn(f)
	}
}

func (p *Pipeline) emitConn(f *flow) {
	client := SideA
	if f.clientKnown {
		client = f.client
	}
	server := client.Other()
	c := &Conn{
		SrcPackets: f.pkts[client], SrcBytes: f.bytes[client],
		DstPackets: f.pkts[server], DstBytes: f.bytes[server],
		First: f.first, Last: f.last,
		L7Detected:    f.l7,
		MissingBytes:  f.skipped,
		SeenHandshake: f.syn[SideA] || f.syn[SideB],
	}
	switch {
	case f.proto == TransportUDP:
		c.State = ConnClosed
		if p.now.Sub(f.last) < p.cfg.UDPIdle {
			c.State = ConnOpen
		}
	case f.closed():
		c.State = ConnClosed
	case f.syn[SideA] != f.syn[SideB] || (f.syn[client] && f.pkts[server] == 0):
		c.State = ConnInProgress
	default:
		c.State = ConnOpen
	}
	proto := ProtoTCP
	if f.proto == TransportUDP {
		proto = ProtoUDP
	}
	e := &Entry{Protocol: proto, Timestamp: f.first, Interface: f.iface, Conn: c}
	p.deliver(f, e, client)
}

// emitter returns the Emit callback parsers of flow f use.
func (p *Pipeline) emitter(f *flow) Emit {
	return func(e *Entry, client Side) {
		if !f.clientKnown {
			f.client, f.clientKnown = client, true
		}
		found := false
		for _, l := range f.l7 {
			if l == e.Protocol {
				found = true
				break
			}
		}
		if !found {
			f.l7 = append(f.l7, e.Protocol)
		}
		p.deliver(f, e, client)
	}
}

func (p *Pipeline) deliver(f *flow, e *Entry, client Side) {
	e.ID = p.ids.nextEntry()
	e.Index = f.entries
	f.entries++
	e.Stream = f.id
	e.Transport = f.proto
	src, dst := f.ends[client], f.ends[client.Other()]
	e.Src = Endpoint{IP: src.Addr(), Port: src.Port()}
	e.Dst = Endpoint{IP: dst.Addr(), Port: dst.Port()}
	e.CaptureSource = p.cfg.CaptureSource
	e.LocalIsSrc = true
	if p.cfg.IsLocal != nil && !p.cfg.IsLocal(e.Src.IP) && p.cfg.IsLocal(e.Dst.IP) {
		e.LocalIsSrc = false
	}
	if e.Timestamp.IsZero() {
		e.Timestamp = f.first
	}
	p.stats.Entries[e.Protocol]++
	p.emit(e)
}

// flowKey is a direction-independent 5-tuple.
type flowKey struct {
	lo, hi netip.AddrPort
	proto  Transport
}

func makeFlowKey(a, b netip.AddrPort, proto Transport) flowKey {
	if b.Compare(a) < 0 {
		a, b = b, a
	}
	return flowKey{lo: a, hi: b, proto: proto}
}

// flow is one tracked TCP connection or UDP flow.
type flow struct {
	id          StreamID
	key         flowKey
	proto       Transport
	ends        [2]netip.AddrPort // indexed by Side
	pkts, bytes [2]uint64
	first, last time.Time
	iface       int
	syn, fin    [2]bool
	rst         bool
	closedAt    time.Time
	client      Side
	clientKnown bool
	l7          []string
	entries     int
	skipped     uint64
	finalized   bool

	tcp       *tcpStream
	udp       DatagramParser
	udpProbed bool

	prev, next *flow // LRU list links
}

func (f *flow) closed() bool { return f.rst || (f.fin[SideA] && f.fin[SideB]) }

func (f *flow) ports() [2]uint16 { return [2]uint16{f.ends[SideA].Port(), f.ends[SideB].Port()} }

// flowList is an intrusive doubly linked list of flows.
type flowList struct{ head, tail *flow }

func (l *flowList) pushFront(f *flow) {
	f.prev, f.next = nil, l.head
	if l.head != nil {
		l.head.prev = f
	}
	l.head = f
	if l.tail == nil {
		l.tail = f
	}
}

func (l *flowList) remove(f *flow) {
	if f.prev != nil {
		f.prev.next = f.next
	} else if l.head == f {
		l.head = f.next
	}
	if f.next != nil {
		f.next.prev = f.prev
	} else if l.tail == f {
		l.tail = f.prev
	}
	f.prev, f.next = nil, nil
}

func (l *flowList) moveToFront(f *flow) {
	if l.head == f {
		return
	}
	l.remove(f)
	l.pushFront(f)
}

func (l *flowList) back() *flow { return l.tail }
