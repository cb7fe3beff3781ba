package tlsprobe

import (
	"hash/fnv"
	"net/netip"
	"sync/atomic"
	"time"
)

// Packet is one synthetic packet: an IPv4 or IPv6 header, a TCP header and
// plaintext, as LINKTYPE_RAW. It was never on the wire; see the package doc.
type Packet struct {
	// Timestamp is when the SSL call returned (the SYN, SYN-ACK and ACK made
	// up for a connection carry the time of its first data).
	Timestamp time.Time
	// Data starts with the IP header. It is owned by the Probe and valid until
	// the next call to Next or Close.
	Data []byte
	// Length is len(Data): nothing is truncated.
	Length int
	// PID and TID are the process and thread whose SSL call produced the
	// packet, numbered in the initial PID namespace (the agent's /proc when
	// it runs with hostPID).
	PID, TID uint32
	// Outbound is true for packets sent by the local process (SSL_write*,
	// and its half of the handshake and teardown), false for received ones.
	Outbound bool
}

// Directions of a connection, relative to the local (target) process.
const (
	dirOut = 0
	dirIn  = 1
)

type connKey struct {
	pid uint32
	ssl uint64
}

// pairKey identifies a connection whichever end reports it.
type pairKey struct{ a, b netip.AddrPort }

func makePairKey(x, y netip.AddrPort) pairKey {
	if x.Compare(y) > 0 {
		x, y = y, x
	}
	return pairKey{x, y}
}

// chunk is the plaintext of one event, in one direction.
type chunk struct {
	ts     int64
	tid    uint32
	kind   uint8
	offset uint64
	skip   uint32 // bytes after data that were not copied
	data   []byte
}

func chunkOf(ev *event, data []byte) chunk {
	return chunk{ts: ev.ts, tid: ev.tid, kind: ev.kind, offset: ev.offset, skip: ev.skip, data: data}
}

// conn is one SSL object of one process, turned into a synthetic TCP
// connection.
type conn struct {
	key           connKey
	local, remote netip.AddrPort
	hasTuple      bool // local and remote are set (real or placeholder)
	placeholder   bool // no real tuple was learned
	open          bool // the handshake was emitted and no FIN yet
	dup           bool // the peer process reports this connection already
	firstKind     uint8
	localClient   bool
	isn           [2]uint32 // per direction
	base          [2]uint64 // stream offset at the start of the synthetic stream
	next          [2]uint64 // stream offset after the last byte emitted
	ipID          [2]uint16
	last          int64 // monotonic ns of the last event
	pending       []chunk
	pendingBytes  int
	pendingSince  int64
}

// counters are the reconstruction's statistics, read concurrently by Stats.
type counters struct {
	events, bytes, packets     atomic.Uint64
	unknownTuple, duplicates   atomic.Uint64
	evicted                    atomic.Uint64
	decodeErrors, pendingDrops atomic.Uint64
}

// limits of the reconstruction (Config with defaults applied).
type limits struct {
	maxPending      int   // bytes per SSL object waiting for their tuple
	maxPendingTotal int   // bytes of all of them
	pendingTimeout  int64 // ns
	idleTimeout     int64 // ns
	maxConns        int
	ephemeralLo     uint16 // the target netns's ip_local_port_range
	ephemeralHi     uint16
}

// builder turns events into synthetic packets. It is not safe for concurrent
// use; c is.
type builder struct {
	lim          limits
	c            *counters
	conns        map[connKey]*conn
	owners       map[pairKey]connKey
	pendingTotal int

	// wallOffset converts CLOCK_MONOTONIC ns to Unix ns.
	wallOffset int64

	out   []Packet // packets of the events handled since the last reset
	arena []byte   // their bytes
}

func newBuilder(lim limits, c *counters) *builder {
	return &builder{lim: lim, c: c, conns: map[connKey]*conn{}, owners: map[pairKey]connKey{}}
}

// reset forgets the packets handed out: their Data may be overwritten now.
func (b *builder) reset() {
	clear(b.out)
	b.out = b.out[:0]
	b.arena = b.arena[:0]
}

// event handles one ring record. data is only read during the call.
func (b *builder) event(ev *event, data []byte) {
	b.c.events.Add(1)
	key := connKey{ev.pid, ev.ssl}
	c := b.conns[key]
	if ev.kind == kindClose {
		if c == nil {
			return
		}
		c.last = ev.ts
		if !c.hasTuple {
			if ev.flags&flagTuple != 0 {
				b.setTuple(c, ev.local, ev.remote, false)
			} else {
				b.setPlaceholder(c)
			}
			b.flushPending(c)
		}
		b.finish(c, ev.ts, ev.tid)
		b.forget(c)
		return
	}
	if ev.kind != kindWrite && ev.kind != kindRead {
		b.c.decodeErrors.Add(1)
		return
	}
	if c == nil {
		c = b.newConn(key, ev.kind)
	}
	c.last = ev.ts

	if ev.flags&flagTuple != 0 {
		switch {
		case !c.hasTuple:
			b.setTuple(c, ev.local, ev.remote, false)
			b.flushPending(c)
		case c.placeholder || c.local != ev.local || c.remote != ev.remote:
			// The real tuple arrived after a placeholder was given, or the SSL
			// object was reused for another connection without an SSL_free
			// seen: end this stream, start another.
			b.finish(c, ev.ts, ev.tid)
			b.release(c)
			c.dup = false
			c.firstKind = ev.kind
			b.setTuple(c, ev.local, ev.remote, false)
		}
	}
	if !c.hasTuple {
		b.hold(c, ev, data)
		return
	}
	ch := chunkOf(ev, data)
	b.data(c, &ch)
}

func (b *builder) newConn(key connKey, kind uint8) *conn {
	if len(b.conns) >= b.lim.maxConns {
		// Evict the least recently active connection (a scan, but only when
		// the table is full).
		var oldest *conn
		for _, o := range b.conns {
			if oldest == nil || o.last < oldest.last {
				oldest = o
			}
		}
		if oldest != nil {
			b.c.evicted.Add(1)
			b.forget(oldest)
		}
	}
	c := &conn{key: key, firstKind: kind}
	b.conns[key] = c
	return c
}

// forget drops a connection without emitting anything.
func (b *builder) forget(c *conn) {
	b.release(c)
	b.c.pendingDrops.Add(uint64(len(c.pending)))
	b.pendingTotal -= c.pendingBytes
	c.pending, c.pendingBytes = nil, 0
	if b.conns[c.key] == c {
		delete(b.conns, c.key)
	}
}

// release gives up c's claim on its tuple.
func (b *builder) release(c *conn) {
	if !c.hasTuple || c.placeholder {
		return
	}
	k := makePairKey(c.local, c.remote)
	if b.owners[k] == c.key {
		delete(b.owners, k)
	}
}

// hold keeps an event of a connection whose tuple is unknown, or gives the
// connection a placeholder tuple when too much waits.
func (b *builder) hold(c *conn, ev *event, data []byte) {
	if c.pendingBytes+len(data) > b.lim.maxPending || b.pendingTotal+len(data) > b.lim.maxPendingTotal {
		b.setPlaceholder(c)
		b.flushPending(c)
		ch := chunkOf(ev, data)
		b.data(c, &ch)
		return
	}
	if len(c.pending) == 0 {
		c.pendingSince = ev.ts
	}
	c.pending = append(c.pending, chunkOf(ev, append([]byte(nil), data...)))
	c.pendingBytes += len(data)
	b.pendingTotal += len(data)
}

func (b *builder) flushPending(c *conn) {
	for i := range c.pending {
		b.data(c, &c.pending[i])
	}
	b.pendingTotal -= c.pendingBytes
	c.pending, c.pendingBytes = nil, 0
}

// Placeholder tuples come from the documentation prefix 2001:db8::/32: the
// local end is 2001:db8:ffff:fffe::PID port 1, the remote end
// 2001:db8:ffff:ffff:SSL port 2, SSL being the SSL object's address.
func placeholderTuple(k connKey) (local, remote netip.AddrPort) {
	var l, r [16]byte
	l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7] = 0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0xff, 0xfe
	l[12], l[13], l[14], l[15] = byte(k.pid>>24), byte(k.pid>>16), byte(k.pid>>8), byte(k.pid)
	r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7] = 0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0xff, 0xff
	for i := 0; i < 8; i++ {
		r[8+i] = byte(k.ssl >> (56 - 8*i))
	}
	return netip.AddrPortFrom(netip.AddrFrom16(l), 1), netip.AddrPortFrom(netip.AddrFrom16(r), 2)
}

func (b *builder) setPlaceholder(c *conn) {
	l, r := placeholderTuple(c.key)
	b.setTuple(c, l, r, true)
}

// ephemeral reports whether port is in the target's ip_local_port_range.
func (b *builder) ephemeral(port uint16) bool {
	return port >= b.lim.ephemeralLo && port <= b.lim.ephemeralHi
}

// setTuple gives c its addresses, decides which end is the client, derives
// the initial sequence numbers and claims the tuple (see the package doc).
func (b *builder) setTuple(c *conn, local, remote netip.AddrPort, placeholder bool) {
	c.local, c.remote = local, remote
	c.hasTuple, c.placeholder, c.open = true, placeholder, false
	le, re := b.ephemeral(local.Port()), b.ephemeral(remote.Port())
	switch {
	case !placeholder && le && !re:
		c.localClient = true
	case !placeholder && re && !le:
		c.localClient = false
	default:
		// The client speaks first in HTTP/1, HTTP/2, gRPC, Redis, PostgreSQL...
		c.localClient = c.firstKind == kindWrite
	}
	h := fnv.New64a()
	var buf [8]byte
	for _, ap := range [2]netip.AddrPort{local, remote} {
		a := ap.Addr().As16()
		h.Write(a[:])
		buf[0], buf[1] = byte(ap.Port()>>8), byte(ap.Port())
		h.Write(buf[:2])
	}
	for i := range buf {
		buf[i] = byte(c.key.ssl >> (8 * i))
	}
	h.Write(buf[:])
	s := h.Sum64()
	c.isn[dirOut], c.isn[dirIn] = uint32(s), uint32(s>>32)
	c.base, c.ipID = c.next, [2]uint16{uint16(s >> 16), uint16(s >> 48)}

	if placeholder {
		return
	}
	k := makePairKey(local, remote)
	if owner, ok := b.owners[k]; ok && owner != c.key {
		if o := b.conns[owner]; o != nil && o.hasTuple && o.local == remote && o.remote == local {
			// Both ends of this connection are in the target namespace (two
			// local processes talking over TLS): the first one seen reports it.
			c.dup = true
			return
		} else if o != nil {
			// The same end, seen through an older SSL object that was never
			// freed: that one is stale.
			b.finish(o, c.last, 0)
			b.forget(o)
		}
	}
	b.owners[k] = c.key
}

func (b *builder) seq(c *conn, d int, off uint64) uint32 {
	return c.isn[d] + 1 + uint32(off-c.base[d])
}

// data emits the bytes of one event as TCP segments.
func (b *builder) data(c *conn, ch *chunk) {
	if len(ch.data) == 0 {
		return
	}
	if c.dup {
		b.c.duplicates.Add(1)
		return
	}
	if c.placeholder {
		b.c.unknownTuple.Add(1)
	}
	d := dirOut
	if ch.kind == kindRead {
		d = dirIn
	}
	if ch.offset < c.next[d] {
		// The offsets started again: the kernel's entry for this SSL object
		// was evicted and re-created. Start another stream.
		b.finish(c, ch.ts, ch.tid)
		c.next = [2]uint64{}
		c.base = c.next
	}
	if !c.open {
		b.handshake(c, ch.ts, ch.tid)
	}
	ack := b.seq(c, 1-d, c.next[1-d])
	for p := 0; p < len(ch.data); {
		n := min(len(ch.data)-p, MaxSegment)
		flags := uint8(tcpACK)
		if p+n == len(ch.data) {
			flags |= tcpPSH
		}
		b.emit(c, ch.ts, ch.tid, d, segment{seq: b.seq(c, d, ch.offset+uint64(p)), ack: ack, flags: flags, payload: ch.data[p : p+n]})
		p += n
	}
	// Bytes the kernel did not copy (a truncated call) still advance the
	// stream: what follows them shows the gap.
	c.next[d] = ch.offset + uint64(len(ch.data)) + uint64(ch.skip)
	b.c.bytes.Add(uint64(len(ch.data)))
}

// handshake emits SYN, SYN-ACK and ACK from the client's end.
func (b *builder) handshake(c *conn, ts int64, tid uint32) {
	cd := dirOut
	if !c.localClient {
		cd = dirIn
	}
	sd := 1 - cd
	ci, si := b.seq(c, cd, c.base[cd])-1, b.seq(c, sd, c.base[sd])-1
	b.emit(c, ts, tid, cd, segment{seq: ci, flags: tcpSYN})
	b.emit(c, ts, tid, sd, segment{seq: si, ack: ci + 1, flags: tcpSYN | tcpACK})
	b.emit(c, ts, tid, cd, segment{seq: ci + 1, ack: si + 1, flags: tcpACK})
	c.open = true
}

// finish emits the teardown of an open stream: the local process freed its SSL
// object, so its end sends the first FIN.
func (b *builder) finish(c *conn, ts int64, tid uint32) {
	if !c.open || c.dup {
		c.open = false
		return
	}
	fo, fi := b.seq(c, dirOut, c.next[dirOut]), b.seq(c, dirIn, c.next[dirIn])
	b.emit(c, ts, tid, dirOut, segment{seq: fo, ack: fi, flags: tcpFIN | tcpACK})
	b.emit(c, ts, tid, dirIn, segment{seq: fi, ack: fo + 1, flags: tcpFIN | tcpACK})
	b.emit(c, ts, tid, dirOut, segment{seq: fo + 1, ack: fi + 1, flags: tcpACK})
	c.open = false
	// A stream started after this one on the same connection continues the
	// offsets: no gap, no overlap.
	c.base = c.next
}

func (b *builder) emit(c *conn, ts int64, tid uint32, d int, seg segment) {
	if d == dirOut {
		seg.src, seg.dst = c.local, c.remote
	} else {
		seg.src, seg.dst = c.remote, c.local
	}
	seg.ipID = c.ipID[d]
	c.ipID[d]++
	start := len(b.arena)
	b.arena = appendSegment(b.arena, &seg)
	n := len(b.arena) - start
	b.out = append(b.out, Packet{
		Timestamp: time.Unix(0, ts+b.wallOffset),
		Data:      b.arena[start : start+n : start+n],
		Length:    n,
		PID:       c.key.pid,
		TID:       tid,
		Outbound:  d == dirOut,
	})
	b.c.packets.Add(1)
}

// sweep gives placeholder tuples to connections whose events waited longer
// than the pending timeout and forgets connections idle for the idle
// timeout. now is CLOCK_MONOTONIC ns.
func (b *builder) sweep(now int64) {
	for _, c := range b.conns {
		if len(c.pending) > 0 && now-c.pendingSince >= b.lim.pendingTimeout {
			b.setPlaceholder(c)
			b.flushPending(c)
		}
		if now-c.last >= b.lim.idleTimeout {
			b.forget(c)
		}
	}
}
