package dns

import (
	"time"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
)

// tcpParser splits the two byte streams of a DNS-over-TCP connection into messages.
//
// Each side keeps at most one incomplete message (≤ 64 KiB + 2 bytes) between chunks;
// messages that lie entirely inside a chunk are decoded in place. After a capture gap
// or a length prefix too small for a header, the side resynchronises: it looks for the
// first offset where a whole length-prefixed message passes the strict
// plausibleMessage test. Offsets that cannot be judged yet (the message is not complete)
// are remembered, at most maxWaiting of them, and the side keeps the bytes from the
// oldest of them on, so memory stays bounded by one maximal message plus one chunk.
type tcpParser struct {
	m     matcher
	sides [2]tcpSide
}

type tcpSide struct {
	// buf holds bytes not consumed yet: the start of an incomplete message (length
	// prefix included) or, while resyncing, bytes not yet ruled out as a message start.
	buf      []byte
	bufT     time.Time // capture time of buf[0]
	bufIface int

	resync bool
	// While resyncing: offsets of buf below scan have been judged; waiting are the
	// judged offsets that need more bytes, ascending.
	scan    int
	waiting []int
}

const (
	maxWaiting = 8
	// keepCap is the buffer capacity kept for reuse once a large message is consumed.
	keepCap = 4096
)

func (p *tcpParser) Feed(c dissect.Chunk) {
	s := &p.sides[c.Side]
	if c.Skipped != 0 {
		// The bytes before the gap cannot be completed: forget them.
		s.buf = s.buf[:0]
		s.startResync(0)
	}
	data := c.Data
	base := 0 // offset of data in c.Data
	if !s.resync && len(s.buf) == 0 {
		// Fast path: messages entirely inside this chunk are decoded in place.
		used, bad := p.frames(c.Side, data, func(off int) time.Time { return chunkTime(c, off) }, c.Interface)
		data, base = data[used:], used
		if !bad {
			if len(data) > 0 {
				s.buf = append(s.buf, data...)
				s.bufT, s.bufIface = chunkTime(c, base), c.Interface
			}
			return
		}
		s.startResync(0)
	}

	if len(s.buf) == 0 {
		s.bufT, s.bufIface = chunkTime(c, base), c.Interface
	}
	appendedAt := len(s.buf)
	s.buf = append(s.buf, data...)
	bufT := s.bufT
	timeAt := func(off int) time.Time {
		if off >= appendedAt {
			return chunkTime(c, base+off-appendedAt)
		}
		return bufT // exact for an incomplete message, approximate while resyncing
	}
	start := 0 // bytes of buf consumed
	for {
		if s.resync {
			i := s.resyncScan(false)
			if i < 0 {
				start = s.scan
				if len(s.waiting) > 0 {
					start = s.waiting[0]
				}
				break
			}
			start = i
			s.resync = false
		}
		used, bad := p.frames(c.Side, s.buf[start:], func(off int) time.Time { return timeAt(start + off) }, s.bufIface)
		start += used
		if !bad {
			break
		}
		s.startResync(start)
	}
	if start > 0 && start < len(s.buf) {
		s.bufT = timeAt(start)
		if start >= appendedAt {
			s.bufIface = c.Interface
		}
	}
	s.consume(start)
}

// consume drops the first n bytes of the buffer.
func (s *tcpSide) consume(n int) {
	rest := len(s.buf) - n
	if rest == 0 && cap(s.buf) > keepCap {
		s.buf = nil
	} else {
		copy(s.buf, s.buf[n:])
		s.buf = s.buf[:rest]
	}
	if s.resync {
		s.scan -= n
		for i := range s.waiting {
			s.waiting[i] -= n
		}
	}
}

func (s *tcpSide) startResync(at int) {
	s.resync = true
	s.scan = at
	s.waiting = s.waiting[:0]
}

// resyncScan judges candidate message starts in buf: first the waiting ones, then the
// offsets from scan on. It returns the first offset where a complete plausible message
// starts, or -1. With final set no more bytes will come, so candidates that need more
// are rejected.
func (s *tcpSide) resyncScan(final bool) int {
	kept := s.waiting[:0]
	found := -1
	for _, w := range s.waiting {
		switch frameCandidate(s.buf[w:]) {
		case dissect.Match:
			if found < 0 {
				found = w
			}
		case dissect.NeedMore:
			if !final {
				kept = append(kept, w)
			}
		}
	}
	s.waiting = kept
	if found >= 0 {
		return found
	}
	for i := s.scan; i < len(s.buf); i++ {
		if len(s.buf)-i < 2+headerLen && !final {
			s.scan = i
			return -1
		}
		switch frameCandidate(s.buf[i:]) {
		case dissect.Match:
			s.scan = i
			return i
		case dissect.NeedMore:
			if final {
				continue
			}
			if len(s.waiting) == maxWaiting {
				copy(s.waiting, s.waiting[1:])
				s.waiting = s.waiting[:maxWaiting-1]
			}
			s.waiting = append(s.waiting, i)
		}
	}
	s.scan = len(s.buf)
	return -1
}

// frames decodes the complete length-prefixed messages at the start of b and returns
// the bytes consumed; bad reports a length prefix too small for a DNS header (the
// stream is out of sync at b[used:]).
func (p *tcpParser) frames(side dissect.Side, b []byte, timeAt func(int) time.Time, iface int) (used int, bad bool) {
	for len(b)-used >= 2 {
		n := int(be16(b, used))
		if n < headerLen {
			return used, true
		}
		if len(b)-used < 2+n {
			break
		}
		p.m.message(side, b[used+2:used+2+n], timeAt(used), iface, false)
		used += 2 + n
	}
	return used, false
}

// frameCandidate judges whether a message starts at b[0]: a length prefix that fits a
// header and a plausible header with one question; then, once the whole message is
// there, the strict plausibleMessage test. An incomplete candidate whose question
// already fails to decode is rejected early.
func frameCandidate(b []byte) dissect.Verdict {
	if len(b) < 2+headerLen {
		return dissect.NeedMore
	}
	n := int(be16(b, 0))
	if n < headerLen || !plausibleHeader(b[2:]) || be16(b, 6) != 1 {
		return dissect.NoMatch
	}
	msg := b[2:]
	if len(msg) >= n {
		if plausibleMessage(msg[:n]) {
			return dissect.Match
		}
		return dissect.NoMatch
	}
	_, next, err := readName(msg, headerLen, nil, false)
	switch {
	case err == nil && next+4 <= len(msg):
		switch be16(msg, next+2) &^ 0x8000 {
		case 1, 3, 4, 254, 255:
		default:
			return dissect.NoMatch
		}
	case err != nil && err != errTruncated:
		return dissect.NoMatch
	}
	return dissect.NeedMore
}

// Close decodes what is left of an incomplete message on each side as a truncated
// message (or, while resyncing, the plausible messages still in the buffer), then
// emits every query still waiting for its response.
func (p *tcpParser) Close(time.Time) {
	for i := range p.sides {
		s := &p.sides[i]
		side := dissect.Side(i)
		switch {
		case s.resync:
			for {
				at := s.resyncScan(true)
				if at < 0 {
					break
				}
				n := int(be16(s.buf, at))
				p.m.message(side, s.buf[at+2:at+2+n], s.bufT, s.bufIface, false)
				s.scan = at + 2 + n
			}
		case len(s.buf) >= 2+headerLen:
			p.m.message(side, s.buf[2:], s.bufT, s.bufIface, true)
		}
		*s = tcpSide{}
	}
	p.m.close()
}

func chunkTime(c dissect.Chunk, off int) time.Time {
	if c.Time == nil {
		return time.Time{}
	}
	return c.Time(off)
}
