package export

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
)

// Source is a stream of packets with the interfaces they refer to: a Reader, a Merger,
// or a sniffer's stream. Interfaces may grow as Next is called; Packet.Interface always
// indexes the list as it is after the Next that returned the packet.
type Source interface {
	Next() (Packet, error)
	Interfaces() []Interface
}

// NameSource is implemented by sources that carry name resolution records (Reader,
// Merger). Names returns all records seen so far.
type NameSource interface {
	Names() []NameRecord
}

// StatsSource is implemented by sources that carry interface statistics (Reader,
// Merger). Stats returns all statistics seen so far.
type StatsSource interface {
	Stats() []InterfaceStats
}

// SourceError is returned by Merger.Next when one of its sources fails.
type SourceError struct {
	Source int // index into the sources given to Merge
	Err    error
}

func (e *SourceError) Error() string { return fmt.Sprintf("source %d: %v", e.Source, e.Err) }
func (e *SourceError) Unwrap() error { return e.Err }

// Merger merges several sources into one stream in timestamp order. Packets with equal
// timestamps keep the order of their sources (the lower source index first) and, within
// a source, their original order. Interfaces of all sources are renumbered into one list:
// those known when merging starts in source order, later ones as they appear. A Merger is
// not safe for concurrent use; it calls each source from the goroutine calling Next.
type Merger struct {
	srcs    []mergeSrc
	heap    []int // indexes of sources holding a head packet, a min-heap by timestamp
	last    int   // source of the packet returned last, advanced on the next call; -1 if none
	started bool
	errs    []error // source failures not yet returned

	ifaces []Interface
	names  []NameRecord
	stats  []InterfaceStats
}

type mergeSrc struct {
	src            Source
	head           Packet
	ifmap          []int // source interface index -> merged index
	nNames, nStats int   // records of the source already collected
}

// Merge returns a Merger reading from srcs. It reads nothing until the first call to
// Next or Interfaces.
func Merge(srcs ...Source) *Merger {
	m := &Merger{last: -1}
	for _, s := range srcs {
		m.srcs = append(m.srcs, mergeSrc{src: s})
	}
	return m
}

// Next returns the earliest packet among the sources' next packets; its Data is valid
// until the next call. When a source fails, Next returns a *SourceError and drops that
// source: the caller may stop, or call Next again to go on with the others. Next returns
// io.EOF when every source is exhausted.
func (m *Merger) Next() (Packet, error) {
	m.start()
	if m.last >= 0 {
		m.advance(m.last)
		m.last = -1
	}
	if len(m.errs) > 0 {
		err := m.errs[0]
		m.errs = m.errs[1:]
		return Packet{}, err
	}
	if len(m.heap) == 0 {
		return Packet{}, io.EOF
	}
	i := m.pop()
	m.last = i
	s := &m.srcs[i]
	p := s.head
	idx, err := m.mapIface(i, p.Interface)
	if err != nil {
		return Packet{}, &SourceError{Source: i, Err: err}
	}
	p.Interface = idx
	return p, nil
}

// Interfaces returns the merged interface list. Before the first Next it primes every
// source (reads its first packet) so that the list is complete for ordinary sources.
func (m *Merger) Interfaces() []Interface {
	m.start()
	return m.ifaces
}

// Names returns the name records of all sources seen so far.
func (m *Merger) Names() []NameRecord { return m.names }

// Stats returns the interface statistics of all sources seen so far, with Interface
// indexing Interfaces.
func (m *Merger) Stats() []InterfaceStats { return m.stats }

func (m *Merger) start() {
	if m.started {
		return
	}
	m.started = true
	for i := range m.srcs {
		m.advance(i)
	}
}

// advance reads the next packet of source i and collects what came with it.
func (m *Merger) advance(i int) {
	s := &m.srcs[i]
	p, err := s.src.Next()
	m.mapAll(i)
	if ns, ok := s.src.(NameSource); ok {
		if all := ns.Names(); len(all) > s.nNames {
			m.names = append(m.names, all[s.nNames:]...)
			s.nNames = len(all)
		}
	}
	if ss, ok := s.src.(StatsSource); ok {
		if all := ss.Stats(); len(all) > s.nStats {
			for _, st := range all[s.nStats:] {
				idx, err := m.mapIface(i, st.Interface)
				if err != nil {
					m.errs = append(m.errs, &SourceError{Source: i, Err: fmt.Errorf("statistics: %w", err)})
					continue
				}
				st.Interface = idx
				m.stats = append(m.stats, st)
			}
			s.nStats = len(all)
		}
	}
	if err != nil {
		if !errors.Is(err, io.EOF) {
			m.errs = append(m.errs, &SourceError{Source: i, Err: err})
		}
		s.head = Packet{}
		return
	}
	s.head = p
	m.push(i)
}

// mapAll gives every interface source i knows a merged index.
func (m *Merger) mapAll(i int) {
	s := &m.srcs[i]
	ifs := s.src.Interfaces()
	for len(s.ifmap) < len(ifs) {
		s.ifmap = append(s.ifmap, len(m.ifaces))
		m.ifaces = append(m.ifaces, ifs[len(s.ifmap)-1])
	}
}

func (m *Merger) mapIface(i, idx int) (int, error) {
	s := &m.srcs[i]
	if idx >= len(s.ifmap) {
		m.mapAll(i)
	}
	if idx < 0 || idx >= len(s.ifmap) {
		return 0, fmt.Errorf("packet refers to interface %d, the source has %d", idx, len(s.ifmap))
	}
	return s.ifmap[idx], nil
}

func (m *Merger) less(a, b int) bool {
	ta, tb := m.srcs[a].head.Timestamp, m.srcs[b].head.Timestamp
	if ta.Equal(tb) {
		return a < b
	}
	return ta.Before(tb)
}

func (m *Merger) push(i int) {
	h := append(m.heap, i)
	for j := len(h) - 1; j > 0; {
		parent := (j - 1) / 2
		if !m.less(h[j], h[parent]) {
			break
		}
		h[j], h[parent] = h[parent], h[j]
		j = parent
	}
	m.heap = h
}

func (m *Merger) pop() int {
	h := m.heap
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	for j := 0; ; {
		l, r, min := 2*j+1, 2*j+2, j
		if l < n && m.less(h[l], h[min]) {
			min = l
		}
		if r < n && m.less(h[r], h[min]) {
			min = r
		}
		if min == j {
			break
		}
		h[j], h[min] = h[min], h[j]
		j = min
	}
	m.heap = h
	return top
}

// Copy writes every packet of src to dst, declaring src's interfaces on dst as they
// appear, and carries name resolution records and interface statistics over when both
// sides support them (a PcapNGWriter does; a PcapWriter does not and drops them). It
// flushes dst at the end, also after an error, so that dst holds every packet read
// before it. dst.Summary() then describes what was written.
func Copy(dst Writer, src Source) error {
	c := copier{dst: dst, src: src}
	c.ns, _ = src.(NameSource)
	c.ss, _ = src.(StatsSource)
	c.nw, _ = dst.(interface {
		AddNameResolution(netip.Addr, ...string) error
	})
	c.sw, _ = dst.(interface {
		WriteInterfaceStats(InterfaceStats) error
	})
	err := c.run()
	if ferr := dst.Flush(); err == nil {
		err = ferr
	}
	return err
}

type copier struct {
	dst Writer
	src Source
	ns  NameSource
	ss  StatsSource
	nw  interface {
		AddNameResolution(netip.Addr, ...string) error
	}
	sw             interface{ WriteInterfaceStats(InterfaceStats) error }
	ifmap          []int
	nNames, nStats int
}

func (c *copier) run() error {
	if err := c.sync(); err != nil {
		return err
	}
	for {
		p, err := c.src.Next()
		if err != nil {
			if serr := c.sync(); serr != nil && errors.Is(err, io.EOF) {
				return serr
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if p.Interface >= len(c.ifmap) || c.ns != nil && len(c.ns.Names()) > c.nNames {
			if err := c.sync(); err != nil {
				return err
			}
		}
		if p.Interface < 0 || p.Interface >= len(c.ifmap) {
			return fmt.Errorf("copying packets: packet refers to interface %d, the source has %d", p.Interface, len(c.ifmap))
		}
		p.Interface = c.ifmap[p.Interface]
		if err := c.dst.WritePacket(p); err != nil {
			return err
		}
		if c.ss != nil && len(c.ss.Stats()) > c.nStats {
			if err := c.sync(); err != nil {
				return err
			}
		}
	}
}

// sync declares new interfaces, then writes new name records and statistics.
func (c *copier) sync() error {
	ifs := c.src.Interfaces()
	for len(c.ifmap) < len(ifs) {
		idx, err := c.dst.AddInterface(ifs[len(c.ifmap)])
		if err != nil {
			return err
		}
		c.ifmap = append(c.ifmap, idx)
	}
	if c.ns != nil {
		all := c.ns.Names()
		for ; c.nNames < len(all); c.nNames++ {
			if c.nw != nil {
				rec := all[c.nNames]
				if err := c.nw.AddNameResolution(rec.Addr, rec.Names...); err != nil {
					return err
				}
			}
		}
	}
	if c.ss != nil {
		all := c.ss.Stats()
		for ; c.nStats < len(all); c.nStats++ {
			st := all[c.nStats]
			if c.sw == nil || st.Interface < 0 || st.Interface >= len(c.ifmap) {
				continue
			}
			st.Interface = c.ifmap[st.Interface]
			if err := c.sw.WriteInterfaceStats(st); err != nil {
				return err
			}
		}
	}
	return nil
}
