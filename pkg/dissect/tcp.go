package dissect

import (
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/reassembly"
)

// probeLimit is how many bytes per side are buffered while no dissector has decided.
const probeLimit = 4096

type assemblerContext struct {
	ci   gopacket.CaptureInfo
	flow *flow
}

func (c *assemblerContext) GetCaptureInfo() gopacket.CaptureInfo { return c.ci }

type streamFactory struct{ p *Pipeline }

func (sf *streamFactory) New(netFlow, tcpFlow gopacket.Flow, _ *layers.TCP, ac reassembly.AssemblerContext) reassembly.Stream {
	ctx := ac.(*assemblerContext)
	f := ctx.flow
	s := &tcpStream{p: sf.p, f: f, candidates: sf.p.cfg.TCP}
	// reassembly's "client to server" is the direction of the packet that created
	// the connection; map it onto the flow's sides.
	src, _ := netAddr(netFlow.Src())
	if src == f.ends[SideA].Addr() && uint16(tcpPort(tcpFlow.Src())) == f.ends[SideA].Port() {
		s.c2s = SideA
	} else {
		s.c2s = SideB
	}
	f.tcp = s
	return s
}

// tcpStream glues one reassembled TCP connection to a dissector.
type tcpStream struct {
	p   *Pipeline
	f   *flow
	c2s Side

	parser     StreamParser
	candidates []TCPDissector
	probe      [2][]byte
	pending    []pendingChunk
	gaveUp     bool
	closed     bool
	last       time.Time
}

type pendingChunk struct {
	side    Side
	data    []byte
	skipped int
	t       time.Time
	iface   int
}

func (s *tcpStream) Accept(tcp *layers.TCP, _ gopacket.CaptureInfo, _ reassembly.TCPFlowDirection, nextSeq reassembly.Sequence, start *bool, _ reassembly.AssemblerContext) bool {
	// Connections seen mid-stream start at the first segment of each direction.
	if !tcp.SYN && nextSeq == -1 {
		*start = true
	}
	return true
}

func (s *tcpStream) ReassembledSG(sg reassembly.ScatterGather, _ reassembly.AssemblerContext) {
	if s.closed {
		return
	}
	dir, _, _, skip := sg.Info()
	length, _ := sg.Lengths()
	if skip > 0 {
		s.f.skipped += uint64(skip)
		s.p.stats.SkippedBytes += uint64(skip)
	}
	if length == 0 || (s.parser == nil && s.gaveUp) {
		return // nothing to dissect: do not copy the data out
	}
	data := sg.Fetch(length)
	side := s.c2s
	if dir == reassembly.TCPDirServerToClient {
		side = side.Other()
	}
	ci := sg.CaptureInfo(0)
	if !ci.Timestamp.IsZero() {
		s.last = ci.Timestamp
	}
	c := Chunk{
		Side:      side,
		Data:      data,
		Skipped:   skip,
		Time:      func(off int) time.Time { return sg.CaptureInfo(off).Timestamp },
		Interface: ci.InterfaceIndex,
	}
	s.deliver(c, ci.Timestamp)
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
		t := pc.t
		s.parser.Feed(Chunk{
			Side: pc.side, Data: pc.data, Skipped: pc.skipped, Interface: pc.iface,
			Time: func(int) time.Time { return t },
		})
	}
}

func (s *tcpStream) giveUp() {
	s.gaveUp = true
	s.pending, s.probe, s.candidates = nil, [2][]byte{}, nil
	s.p.stats.ProbeGiveUps++
}

func (s *tcpStream) ReassemblyComplete(_ reassembly.AssemblerContext) bool {
	s.close(s.last)
	return true
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
}
