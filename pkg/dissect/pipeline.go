package dissect

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"github.com/gopacket/gopacket/layers"
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
	// MaxBufferedPages bounds out-of-order data held by reassembly, in pages of 1900
	// bytes (a segment counts as many pages as it fills); one direction of a
	// connection holds at most a quarter of it. Beyond, the gap in front of the data
	// is skipped. Default 16384 (~30 MiB).
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

	flows    map[flowKey]*flow
	lastFlow *flow // the flow of the previous packet: bursts skip the map lookup
	// lru lists TCP (0) and UDP (1) flows, most recently active at the front: idle
	// flows are found at the back.
	lru [2]flowList
	// closing lists TCP flows that saw FIN in both directions or a RST, in order:
	// they are finalized one second later.
	closing []*flow
	ids     *IDs

	// TCP reassembly: streams holding out-of-order data, and the pages they hold.
	holding   map[*tcpStream]struct{}
	heldPages int
	// chunkTime is the capture time of the chunk being fed; timeOf returns it (the
	// Chunk.Time of every chunk, without a closure per chunk).
	chunkTime time.Time
	timeOf    func(int) time.Time

	nextSweep time.Time // packet time of the next sweep
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
	p.holding = make(map[*tcpStream]struct{})
	p.timeOf = func(int) time.Time { return p.chunkTime }
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
	key, srcIsLo := makeFlowKey(d.src, d.srcPort, d.dst, d.dstPort, d.proto, d.v4)
	f := p.lastFlow
	if f == nil || f.key != key {
		f = p.flows[key]
	}
	ts := pkt.Timestamp

	if f != nil && d.proto == TransportTCP && d.th.syn && !d.th.ack && f.closed() {
		// A new connection on a reused 5-tuple.
		p.finalize(f)
		f = nil
	}
	if f == nil {
		src := netip.AddrPortFrom(wordsAddr(d.src, d.v4), d.srcPort)
		dst := netip.AddrPortFrom(wordsAddr(d.dst, d.v4), d.dstPort)
		f = p.newFlow(key, src, dst, srcIsLo, d.proto, ts, pkt.Interface)
	}
	p.lastFlow = f
	side := SideA
	if srcIsLo != f.aIsLo {
		side = SideB
	}
	f.pkts[side]++
	f.last = ts
	p.lru[f.list].moveToFront(f)

	switch d.proto {
	case TransportTCP:
		t := &d.th
		f.bytes[side] += uint64(len(t.payload))
		if t.syn && !t.ack && !f.clientKnown {
			f.client, f.clientKnown = side, true
		}
		if t.syn {
			f.syn[side] = true
		}
		if t.fin {
			f.fin[side] = true
		}
		if t.rst {
			f.rst = true
		}
		if f.closed() && f.closedAt.IsZero() {
			f.closedAt = ts
			p.closing = append(p.closing, f)
		}
		s := f.tcp
		if s == nil {
			s = p.newTCPStream(f)
		}
		s.segment(side, t, ts, pkt.Interface)
	case TransportUDP:
		payload := d.udpPayload
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
	// Held TCP data first (skipping the gaps), closing every dissector, then the L4
	// records: least recently active streams first.
	for f := p.lru[0].back(); f != nil; f = f.prev {
		if f.tcp != nil {
			f.tcp.flushAll()
		}
	}
	for f := p.leastRecent(); f != nil; f = p.leastRecent() {
		p.finalize(f)
	}
	p.closing = nil
}

// leastRecent returns the least recently active flow, nil when there is none.
func (p *Pipeline) leastRecent() *flow {
	t, u := p.lru[0].back(), p.lru[1].back()
	if t == nil || u != nil && u.last.Before(t.last) {
		return u
	}
	return t
}

// maybeSweep runs housekeeping once per second of packet time: skip reassembly gaps
// older than GapWait, finalize closed streams and idle ones, and evict the least
// recently active streams beyond MaxStreams.
func (p *Pipeline) maybeSweep(now time.Time) {
	if now.Before(p.nextSweep) && len(p.flows) <= p.cfg.MaxStreams {
		return
	}
	p.nextSweep = now.Add(time.Second)
	if len(p.holding) > 0 {
		p.flushHeld(now.Add(-p.cfg.GapWait))
	}
	for len(p.flows) > p.cfg.MaxStreams {
		p.stats.EvictedFlows++
		p.finalize(p.leastRecent())
	}
	// Closed connections linger one second (the last ACKs).
	keep := p.closing[:0]
	for _, f := range p.closing {
		switch {
		case f.finalized:
		case now.Sub(f.closedAt) >= time.Second:
			p.finalize(f)
		default:
			keep = append(keep, f)
		}
	}
	clear(p.closing[len(keep):])
	p.closing = keep
	// Each list is ordered by activity: the walk stops at the first flow that has
	// not been idle long enough.
	for i, idle := range [2]time.Duration{p.cfg.TCPIdle, p.cfg.UDPIdle} {
		for f := p.lru[i].back(); f != nil && now.Sub(f.last) >= idle; f = p.lru[i].back() {
			p.finalize(f)
		}
	}
}

// flushHeld skips the gaps in front of TCP data held since before t, in the order
// the streams began.
func (p *Pipeline) flushHeld(t time.Time) {
	streams := make([]*tcpStream, 0, len(p.holding))
	for s := range p.holding {
		streams = append(streams, s)
	}
	slices.SortFunc(streams, func(a, b *tcpStream) int { return cmp.Compare(a.f.id, b.f.id) })
	for _, s := range streams {
		s.flushOlder(t)
	}
}

func (p *Pipeline) newFlow(key flowKey, src, dst netip.AddrPort, srcIsLo bool, proto Transport, ts time.Time, iface int) *flow {
	f := &flow{id: p.ids.nextStream(), key: key, proto: proto, first: ts, last: ts, iface: iface, aIsLo: srcIsLo}
	if proto == TransportUDP {
		f.list = 1
	}
	f.ends[SideA], f.ends[SideB] = src, dst
	p.flows[key] = f
	p.lru[f.list].pushFront(f)
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
	if p.lastFlow == f {
		p.lastFlow = nil
	}
	p.lru[f.list].remove(f)
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

// flowKey is a direction-independent 5-tuple: the two endpoints ordered (lo, hi),
// each address in its 16-byte form. It is only uint64s so that maps hash it as
// plain memory.
type flowKey struct {
	lo0, lo1, hi0, hi1 uint64
	// lo port << 32 | hi port << 16 | proto << 8 | 1 when both addresses are IPv4
	meta uint64
}

// makeFlowKey returns the key of a packet from a to b (addresses as addrWords gives
// them), and whether a is the key's lo endpoint.
func makeFlowKey(a [2]uint64, ap uint16, b [2]uint64, bp uint16, proto Transport, v4 bool) (flowKey, bool) {
	aLo := a[0] < b[0] || a[0] == b[0] && (a[1] < b[1] || a[1] == b[1] && ap <= bp)
	k := flowKey{lo0: a[0], lo1: a[1], hi0: b[0], hi1: b[1]}
	lp, hp := ap, bp
	if !aLo {
		k = flowKey{lo0: b[0], lo1: b[1], hi0: a[0], hi1: a[1]}
		lp, hp = bp, ap
	}
	k.meta = uint64(lp)<<32 | uint64(hp)<<16 | uint64(proto)<<8
	if v4 {
		k.meta |= 1
	}
	return k, aLo
}

// flow is one tracked TCP connection or UDP flow.
type flow struct {
	id          StreamID
	key         flowKey
	proto       Transport
	ends        [2]netip.AddrPort // indexed by Side
	aIsLo       bool              // SideA is the key's lo endpoint
	list        uint8             // index in Pipeline.lru
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
