package dissect

import (
	"slices"
	"time"
)

// probeLimit is how many bytes per side are buffered while no dissector has decided.
const probeLimit = 4096

// pageSize is the unit in which out-of-order data is counted against
// Config.MaxBufferedPages.
const pageSize = 1900

// maxRanges bounds the out-of-order segments remembered (without their data) for a
// stream nobody dissects; beyond it the oldest gap is skipped.
const maxRanges = 1024

// tcpStream reassembles one TCP connection and feeds it to a dissector.
//
// Reassembly follows the receiver: each direction (half) starts at its SYN, or at
// its first segment when the capture began mid-connection; data at the next expected
// sequence number is delivered at once, straight from the packet; segments after a
// gap are copied and held, sorted, until the gap is filled, until they are older
// than Config.GapWait, or until the buffer limits force the gap to be skipped.
// Retransmitted bytes that were already delivered are dropped; among held segments
// the newest copy of a byte wins. A FIN or RST reached in order ends its half; when
// both halves ended, the dissector is closed.
//
// Once no dissector wants the stream (every one gave up, or its parser was closed),
// payloads are no longer copied: only the sequence numbers are followed, so the
// bytes lost to gaps are still counted.
type tcpStream struct {
	p    *Pipeline
	f    *flow
	half [2]tcpHalf

	parser     StreamParser
	candidates []TCPDissector
	probe      [2][]byte
	pending    []pendingChunk
	gaveUp     bool
	closed     bool
	last       time.Time // capture time of the last data delivered
}

// tcpHalf is the reassembly state of one direction.
type tcpHalf struct {
	started bool // nextSeq is known
	ended   bool // a FIN or RST was reached in order: later segments are ignored
	nextSeq uint32
	finSet  bool   // a FIN arrived ahead of the data before it
	finSeq  uint32 // where that FIN ends the half
	held    []heldSegment
	pages   int // pages of data in held
}

// heldSegment is an out-of-order segment waiting for the data before it. data is nil
// when the stream no longer wants payloads; n is the segment's length either way.
type heldSegment struct {
	seq   uint32
	n     int
	data  []byte
	seen  time.Time
	iface int
}

type pendingChunk struct {
	side    Side
	data    []byte
	skipped int
	t       time.Time
	iface   int
}

// seqDiff is b-a in sequence space (positive when b is after a).
func seqDiff(a, b uint32) int { return int(int32(b - a)) }

func segPages(n int) int { return (n + pageSize - 1) / pageSize }

func (p *Pipeline) newTCPStream(f *flow) *tcpStream {
	s := &tcpStream{p: p, f: f, candidates: p.cfg.TCP}
	f.tcp = s
	return s
}

// wantData reports whether payloads are still dissected.
func (s *tcpStream) wantData() bool { return !s.closed && (s.parser != nil || !s.gaveUp) }

// segment reassembles one TCP segment sent by side.
func (s *tcpStream) segment(side Side, h *tcpHeader, t time.Time, iface int) {
	hf := &s.half[side]
	if hf.ended {
		return
	}
	seq, payload := h.seq, h.payload
	switch {
	case h.syn && hf.started:
		// A SYN on a synchronised half is answered with a challenge ACK and dropped
		// by the receiver (RFC 5961): its payload is not stream data.
		return
	case h.syn:
		seq++
		hf.started, hf.nextSeq = true, seq
	case !hf.started:
		// The capture began mid-connection: start at this segment.
		hf.started, hf.nextSeq = true, seq
	}
	diff := seqDiff(hf.nextSeq, seq)
	end := seq + uint32(len(payload))
	if diff > 0 {
		// After a gap: hold it. An out-of-order RST is dropped by the receiver.
		if h.rst {
			return
		}
		if h.fin {
			hf.finSet, hf.finSeq = true, end
		}
		if len(payload) > 0 {
			s.hold(side, hf, seq, payload, t, iface)
		}
		return
	}
	// At or before the next expected byte. A RST or FIN lying entirely before it is
	// out of window for the receiver and ends nothing.
	if h.rst && diff < 0 || h.fin && seqDiff(hf.nextSeq, end) < 0 {
		return
	}
	if -diff >= len(payload) {
		payload = nil
	} else {
		payload = payload[-diff:]
	}
	if len(payload) > 0 {
		hf.nextSeq += uint32(len(payload))
		s.dropHeldBefore(hf)
		s.data(side, payload, 0, t, iface)
	}
	if h.fin || h.rst {
		if h.fin {
			hf.nextSeq++
		}
		s.endHalf(side)
		return
	}
	s.drain()
}

// hold stores an out-of-order segment. New data replaces held data it overlaps.
func (s *tcpStream) hold(side Side, hf *tcpHalf, seq uint32, payload []byte, t time.Time, iface int) {
	keep := s.wantData()
	end := seq + uint32(len(payload))
	// i: the first held segment that does not start before the new one. Most
	// segments arrive after everything held.
	i := len(hf.held)
	for i > 0 && seqDiff(seq, hf.held[i-1].seq) >= 0 {
		i--
	}
	// The segment before starts earlier and may overlap the new one.
	if i > 0 {
		prev := &hf.held[i-1]
		pend := prev.seq + uint32(prev.n)
		if seqDiff(seq, pend) > 0 {
			if seqDiff(end, pend) >= 0 {
				// The new segment lies inside prev: overwrite those bytes.
				if prev.data != nil {
					copy(prev.data[seqDiff(prev.seq, seq):], payload)
				}
				return
			}
			s.trimHeld(hf, prev, seqDiff(prev.seq, seq), false)
		}
	}
	// Segments from i on that the new one covers, fully (removed) or in part.
	j := i
	for j < len(hf.held) && seqDiff(hf.held[j].seq, end) > 0 {
		next := &hf.held[j]
		if nend := next.seq + uint32(next.n); seqDiff(nend, end) >= 0 {
			s.releaseHeld(hf, next)
			j++
			continue
		}
		s.trimHeld(hf, next, seqDiff(next.seq, end), true)
		break
	}
	seg := heldSegment{seq: seq, n: len(payload), seen: t, iface: iface}
	if keep {
		seg.data = append([]byte(nil), payload...)
		pg := segPages(len(payload))
		hf.pages += pg
		s.p.heldPages += pg
	}
	hf.held = slices.Replace(hf.held, i, j, seg)
	s.p.holding[s] = struct{}{}
	// Over a buffer limit: give up waiting for the first gap.
	lim := s.p.cfg.MaxBufferedPages
	if keep && (hf.pages >= lim/4 || s.p.heldPages >= lim) || !keep && len(hf.held) > maxRanges {
		var upto [2]int
		upto[side] = 1
		s.release(upto)
	}
}

// trimHeld shortens a held segment to its first n bytes (front false) or drops its
// first n bytes (front true); 0 < n < g.n.
func (s *tcpStream) trimHeld(hf *tcpHalf, g *heldSegment, n int, front bool) {
	if front {
		g.seq += uint32(n)
		g.n -= n
	} else {
		g.n = n
	}
	if g.data == nil {
		return
	}
	before := segPages(len(g.data))
	if front {
		g.data = g.data[n:]
	} else {
		g.data = g.data[:n]
	}
	d := segPages(len(g.data)) - before
	hf.pages += d
	s.p.heldPages += d
}

// releaseHeld drops a held segment's data and returns its pages to the budget.
func (s *tcpStream) releaseHeld(hf *tcpHalf, g *heldSegment) {
	if g.data != nil {
		pg := segPages(len(g.data))
		hf.pages -= pg
		s.p.heldPages -= pg
		g.data = nil
	}
}

// removeHeld removes the first n held segments.
func (s *tcpStream) removeHeld(hf *tcpHalf, n int) {
	for k := 0; k < n; k++ {
		s.releaseHeld(hf, &hf.held[k])
	}
	hf.held = slices.Delete(hf.held, 0, n)
	if len(s.half[0].held) == 0 && len(s.half[1].held) == 0 {
		delete(s.p.holding, s)
	}
}

// dropHeldBefore discards held data that delivered data has overtaken: whole
// segments before nextSeq, and the delivered part of one that straddles it.
func (s *tcpStream) dropHeldBefore(hf *tcpHalf) {
	n := 0
	for n < len(hf.held) && seqDiff(hf.nextSeq, hf.held[n].seq+uint32(hf.held[n].n)) <= 0 {
		n++
	}
	if n > 0 {
		s.removeHeld(hf, n)
	}
	if len(hf.held) > 0 {
		if d := seqDiff(hf.held[0].seq, hf.nextSeq); d > 0 {
			s.trimHeld(hf, &hf.held[0], d, true)
		}
	}
}

// drain delivers the held segments that are now in order.
func (s *tcpStream) drain() { s.release([2]int{}) }

// release delivers, for each side, the first upto[side] held segments (skipping the
// gaps before them) and then every held segment that is in order. When both sides
// have data to deliver, it goes in capture order, as the peers exchanged it, so that
// a dissector pairs requests and responses around a gap as it would without one. A
// side whose data reaches a FIN that arrived ahead of it ends there.
func (s *tcpStream) release(upto [2]int) {
	var k [2]int
	for {
		pick := -1
		var first time.Time
		for side := range s.half {
			hf := &s.half[side]
			if k[side] >= len(hf.held) || hf.finSet && hf.nextSeq == hf.finSeq {
				continue
			}
			g := &hf.held[k[side]]
			if k[side] >= upto[side] && g.seq != hf.nextSeq {
				continue
			}
			if pick < 0 || g.seen.Before(first) {
				pick, first = side, g.seen
			}
		}
		if pick < 0 {
			break
		}
		// Delivery may make the stream drop held data (a dissector gave up): the
		// segment is read afresh each time.
		hf := &s.half[pick]
		g := &hf.held[k[pick]]
		skip := seqDiff(hf.nextSeq, g.seq)
		hf.nextSeq = g.seq + uint32(g.n)
		s.dataOrSkip(Side(pick), g.data, skip, g.seen, g.iface)
		k[pick]++
	}
	for side := range s.half {
		hf := &s.half[side]
		if k[side] > 0 {
			s.removeHeld(hf, k[side])
		}
		if !hf.ended && hf.finSet && hf.nextSeq == hf.finSeq {
			hf.nextSeq++
			s.endHalf(Side(side))
		}
	}
}

// flushOlder skips the gaps in front of held data older than t: on each side,
// everything up to the last segment seen before t is delivered (a segment never
// waits longer than one held behind it), followed by what is then in order.
func (s *tcpStream) flushOlder(t time.Time) {
	var upto [2]int
	for side := range s.half {
		hf := &s.half[side]
		for i := range hf.held {
			if hf.held[i].seen.Before(t) {
				upto[side] = i + 1
			}
		}
	}
	if upto != [2]int{} {
		s.release(upto)
	}
}

// flushAll delivers everything held, skipping the gaps, and ends both halves.
func (s *tcpStream) flushAll() {
	s.release([2]int{len(s.half[0].held), len(s.half[1].held)})
	for side := range s.half {
		if !s.half[side].ended {
			s.endHalf(Side(side))
		}
	}
}

// endHalf ends one direction; the stream is complete when both have ended.
func (s *tcpStream) endHalf(side Side) {
	hf := &s.half[side]
	hf.ended = true
	if len(hf.held) > 0 {
		s.removeHeld(hf, len(hf.held))
	}
	hf.held = nil
	if s.half[side.Other()].ended {
		s.close(s.last)
	}
}

// dataOrSkip delivers data (nil when payloads are no longer wanted), counting the
// skipped bytes either way.
func (s *tcpStream) dataOrSkip(side Side, data []byte, skip int, t time.Time, iface int) {
	if data == nil {
		if skip > 0 {
			s.f.skipped += uint64(skip)
			s.p.stats.SkippedBytes += uint64(skip)
		}
		return
	}
	s.data(side, data, skip, t, iface)
}

// data hands in-order bytes of one side to the dissector glue.
func (s *tcpStream) data(side Side, b []byte, skip int, t time.Time, iface int) {
	if s.closed {
		return
	}
	if skip > 0 {
		s.f.skipped += uint64(skip)
		s.p.stats.SkippedBytes += uint64(skip)
	}
	if len(b) == 0 || (s.parser == nil && s.gaveUp) {
		return
	}
	if !t.IsZero() {
		s.last = t
	}
	s.p.chunkTime = t
	s.deliver(Chunk{Side: side, Data: b, Skipped: skip, Time: s.p.timeOf, Interface: iface}, t)
}

func (s *tcpStream) deliver(c Chunk, t time.Time) {
	if s.parser != nil {
		s.parser.Feed(c)
		return
	}
	if s.gaveUp {
		return
	}
	if c.Skipped != 0 {
		s.probe[c.Side] = s.probe[c.Side][:0]
	}
	room := probeLimit - len(s.probe[c.Side])
	add := c.Data
	if len(add) > room {
		add = add[:room]
	}
	s.probe[c.Side] = append(s.probe[c.Side], add...)
	s.pending = append(s.pending, pendingChunk{
		side: c.Side, data: append([]byte(nil), c.Data...), skipped: c.Skipped, t: t, iface: c.Interface,
	})
	ports := s.f.ports()
	undecided := s.candidates[:0:0]
	for _, d := range s.candidates {
		switch d.Probe(c.Side, s.probe[c.Side], ports) {
		case Match:
			s.start(d)
			return
		case NeedMore:
			undecided = append(undecided, d)
		case NoMatch:
			// A dissector may still match the other side's data.
			if len(s.probe[c.Side.Other()]) == 0 {
				undecided = append(undecided, d)
			}
		}
	}
	s.candidates = undecided
	full := len(s.probe[SideA]) >= probeLimit || len(s.probe[SideB]) >= probeLimit
	if len(s.candidates) == 0 || full {
		s.giveUp()
	}
}

func (s *tcpStream) start(d TCPDissector) {
	s.parser = d.NewParser(s.p.emitter(s.f))
	pending := s.pending
	s.pending, s.probe, s.candidates = nil, [2][]byte{}, nil
	for _, pc := range pending {
		s.p.chunkTime = pc.t
		s.parser.Feed(Chunk{
			Side: pc.side, Data: pc.data, Skipped: pc.skipped, Interface: pc.iface, Time: s.p.timeOf,
		})
	}
}

func (s *tcpStream) giveUp() {
	s.gaveUp = true
	s.pending, s.probe, s.candidates = nil, [2][]byte{}, nil
	s.p.stats.ProbeGiveUps++
	s.dropHeldData()
}

// dropHeldData forgets the payloads of held segments (their ranges stay, to count
// gaps) once nobody will read them.
func (s *tcpStream) dropHeldData() {
	for side := range s.half {
		hf := &s.half[side]
		for i := range hf.held {
			s.releaseHeld(hf, &hf.held[i])
		}
	}
}

func (s *tcpStream) close(t time.Time) {
	if s.closed {
		return
	}
	s.closed = true
	if s.parser != nil {
		if t.IsZero() {
			t = s.f.last
		}
		s.parser.Close(t)
	}
	s.pending = nil
	for side := range s.half {
		hf := &s.half[side]
		if len(hf.held) > 0 {
			s.removeHeld(hf, len(hf.held))
		}
		hf.held = nil
	}
}
