// Package streamsel selects the packets that an export filtered with KFL copies: every
// packet of each TCP/UDP stream that holds at least one matching entry, narrowed by an
// optional BPF (tcpdump) expression. `export -r --kfl` (pkg/offline) and the sniffer's
// /pcap both use it, so the two select the same packets from the same traffic.
//
// Selection is two steps. First the entries are matched against the KFL filter and
// the streams of the matching ones collected in a Set. Then the packets are read in
// order and a packet is copied when Set.Has its stream and BPF.Match accepts it.
package streamsel

import (
	"github.com/gopacket/gopacket/layers"

	"github.com/kubectl-shark/kubectl-shark/pkg/capfilter"
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
)

// snapLen is the snapshot length BPF expressions are compiled for.
const snapLen = 262144

// Set is the set of streams whose packets are copied. A nil *Set holds every stream
// (no KFL filter: every packet is copied).
type Set struct {
	ids map[dissect.StreamID]struct{}
}

// NewSet returns an empty set.
func NewSet() *Set { return &Set{ids: map[dissect.StreamID]struct{}{}} }

// Add selects the stream of a matching entry. Stream 0 (an entry outside any stream)
// selects nothing.
func (s *Set) Add(id dissect.StreamID) {
	if id != 0 {
		s.ids[id] = struct{}{}
	}
}

// Has reports whether the packets of stream id are copied: always for a nil set, never
// for stream 0 otherwise.
func (s *Set) Has(id dissect.StreamID) bool {
	if s == nil {
		return true
	}
	_, ok := s.ids[id]
	return ok
}

// BPF matches packets against a tcpdump expression, compiled once per link type. A
// nil *BPF (no expression) matches every packet.
type BPF struct {
	expr    string
	filters map[layers.LinkType]*capfilter.Filter
}

// CheckBPF compiles expr for Ethernet, so that a bad expression fails before any work
// (Match compiles it again per link type). The empty expression is valid.
func CheckBPF(expr string) error {
	if expr == "" {
		return nil
	}
	_, err := capfilter.Compile(expr, layers.LinkTypeEthernet, snapLen)
	return err
}

// NewBPF returns the matcher of expr, nil when expr is empty. The expression is
// compiled by Match; check it first with CheckBPF.
func NewBPF(expr string) *BPF {
	if expr == "" {
		return nil
	}
	return &BPF{expr: expr, filters: map[layers.LinkType]*capfilter.Filter{}}
}

// Match reports whether the packet (data as captured, length on the wire) of link type
// lt passes the expression. The error is that of compiling the expression for lt.
func (b *BPF) Match(lt layers.LinkType, data []byte, length int) (bool, error) {
	if b == nil {
		return true, nil
	}
	f, ok := b.filters[lt]
	if !ok {
		var err error
		if f, err = capfilter.Compile(b.expr, lt, snapLen); err != nil {
			return false, err
		}
		b.filters[lt] = f
	}
	return f.Match(data, length), nil
}
