package tlsprobe

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// Record kinds and flags, as in bpf/src/tls.c.
const (
	kindWrite = 0 // SSL_write*: sent by the local process
	kindRead  = 1 // SSL_read*: received by the local process
	kindClose = 2 // SSL_free

	flagTuple     = 1
	flagTruncated = 2
)

// Offsets of struct event's fields in a ring record (bpf.TLSEvent; a test
// checks them against the generated type).
const (
	offTs     = 0
	offSSL    = 8
	offOffset = 16
	offPID    = 24
	offTID    = 28
	offLen    = 32
	offFamily = 36
	offLport  = 38
	offRport  = 40
	offKind   = 42
	offFlags  = 43
	offLaddr  = 44
	offRaddr  = 60
	offSkip   = 76
	eventSize = 80
)

const (
	afInet  = 2
	afInet6 = 10
)

// event is a decoded ring record header.
type event struct {
	ts     int64 // CLOCK_MONOTONIC ns
	ssl    uint64
	offset uint64 // stream offset of data[0] in its direction
	skip   uint32 // bytes after data that the kernel did not copy (truncated call)
	pid    uint32
	tid    uint32
	kind   uint8
	flags  uint8
	local  netip.AddrPort // valid when flags&flagTuple
	remote netip.AddrPort
}

var errShortRecord = errors.New("short ring record")

// decodeEvent splits a ring record into its header and data. data aliases rec.
func decodeEvent(rec []byte, ev *event) (data []byte, err error) {
	if len(rec) < eventSize {
		return nil, errShortRecord
	}
	ne := binary.NativeEndian
	ev.ts = int64(ne.Uint64(rec[offTs:]))
	ev.ssl = ne.Uint64(rec[offSSL:])
	ev.offset = ne.Uint64(rec[offOffset:])
	ev.skip = ne.Uint32(rec[offSkip:])
	ev.pid = ne.Uint32(rec[offPID:])
	ev.tid = ne.Uint32(rec[offTID:])
	n := ne.Uint32(rec[offLen:])
	ev.kind = rec[offKind]
	ev.flags = rec[offFlags]
	ev.local, ev.remote = netip.AddrPort{}, netip.AddrPort{}
	if ev.flags&flagTuple != 0 {
		lport, rport := ne.Uint16(rec[offLport:]), ne.Uint16(rec[offRport:])
		var l, r netip.Addr
		switch ne.Uint16(rec[offFamily:]) {
		case afInet:
			l = netip.AddrFrom4([4]byte(rec[offLaddr : offLaddr+4]))
			r = netip.AddrFrom4([4]byte(rec[offRaddr : offRaddr+4]))
		case afInet6:
			// Dual-stack sockets talking IPv4 hold v4-mapped addresses.
			l = netip.AddrFrom16([16]byte(rec[offLaddr : offLaddr+16])).Unmap()
			r = netip.AddrFrom16([16]byte(rec[offRaddr : offRaddr+16])).Unmap()
		}
		if l.IsValid() && r.IsValid() && l.Is4() == r.Is4() {
			ev.local, ev.remote = netip.AddrPortFrom(l, lport), netip.AddrPortFrom(r, rport)
		} else {
			ev.flags &^= flagTuple
		}
	}
	if uint64(len(rec)-eventSize) < uint64(n) {
		return nil, errShortRecord
	}
	return rec[eventSize : eventSize+int(n)], nil
}
