package dissect

import (
	"time"

	"github.com/gopacket/gopacket/layers"
)

// StreamCounter numbers the TCP/UDP streams of frames without dissecting them: it
// decodes the headers as a Pipeline does (same fast path, same verdicts) and applies
// the Pipeline's rules for where a stream ends: a SYN reusing the 5-tuple of a closed
// connection, a closed connection finalized a second after it closed, a stream idle
// for the default TCPIdle or UDPIdle (both checked at the Pipeline's once-a-second
// sweeps). Its numbering is a Pipeline's with the default Config, except that it never
// evicts streams (MaxStreams): a capture with more than MaxStreams streams open at once
// can be numbered differently. It holds about 64 bytes per 5-tuple and is not safe
// for concurrent use.
type StreamCounter struct {
	dec   decoder
	flows map[flowKey]*counterFlow
	n     uint64
	// Sweeps: the packet time of the last one, and when the next one is due.
	swept     bool
	lastSweep time.Time
	nextSweep time.Time
}

type counterFlow struct {
	id             uint64
	last, closedAt time.Time
	closed         bool // FIN both ways, or RST
	// Bits: 1 FIN from the key's lo end, 2 FIN from its hi end, 4 RST.
	state uint8
}

// NewStreamCounter returns an empty StreamCounter.
func NewStreamCounter() *StreamCounter {
	c := &StreamCounter{flows: make(map[flowKey]*counterFlow)}
	c.dec.init()
	return c
}

// Packet returns the stream of one frame, numbered from 1 in order of first packet
// (Pipeline.Packet's StreamID with the default Config), or 0 when the frame belongs to
// no TCP/UDP stream (not IP, undecodable, an IP fragment, another transport).
func (c *StreamCounter) Packet(lt layers.LinkType, ts time.Time, data []byte) uint64 {
	d := &c.dec
	if d.decode(lt, data) != decodeOK {
		return 0
	}
	key, srcIsLo := makeFlowKey(d.src, d.srcPort, d.dst, d.dstPort, d.proto, d.v4)
	f := c.flows[key]
	if f != nil {
		idle := 10 * time.Minute
		if d.proto == TransportUDP {
			idle = 30 * time.Second
		}
		switch {
		case c.swept && c.lastSweep.Sub(f.last) >= idle:
			f = nil // finalized idle by the last sweep
		case f.closed && c.swept && c.lastSweep.Sub(f.closedAt) >= time.Second:
			f = nil // finalized closed by the last sweep
		case d.proto == TransportTCP && d.th.syn && !d.th.ack && f.closed:
			f = nil // a new connection on a reused 5-tuple
		}
	}
	if f == nil {
		c.n++
		f = &counterFlow{id: c.n}
		c.flows[key] = f
	}
	f.last = ts
	if d.proto == TransportTCP {
		if d.th.fin {
			if srcIsLo {
				f.state |= 1
			} else {
				f.state |= 2
			}
		}
		if d.th.rst {
			f.state |= 4
		}
		if !f.closed && (f.state&4 != 0 || f.state&3 == 3) {
			f.closed, f.closedAt = true, ts
		}
	}
	c.sweep(ts)
	return f.id
}

// sweep notes the Pipeline's sweep schedule: once per second of packet time.
func (c *StreamCounter) sweep(ts time.Time) {
	if c.swept && ts.Before(c.nextSweep) {
		return
	}
	c.swept, c.lastSweep, c.nextSweep = true, ts, ts.Add(time.Second)
}

// Streams returns how many streams the frames so far belong to.
func (c *StreamCounter) Streams() int { return int(c.n) }
