package tlsprobe

import (
	"encoding/binary"
	"net/netip"
)

// TCP flags of the synthetic segments.
const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpPSH = 0x08
	tcpACK = 0x10
)

const (
	ipv4HeaderLen = 20
	ipv6HeaderLen = 40
	tcpHeaderLen  = 20
	// MaxSegment is the largest TCP payload of a synthetic packet: an IPv4
	// packet's total length (16 bits) less 20-byte IP and TCP headers.
	MaxSegment = 65535 - ipv4HeaderLen - tcpHeaderLen
	// windowShift is the window scale both synthetic SYNs announce, so that
	// the advertised window (65535 << 7, 8 MiB) never looks full to Wireshark.
	windowShift = 7
)

// synOptions are the options of both SYNs: MSS (MaxSegment), NOP, window
// scale.
var synOptions = [8]byte{2, 4, byte(MaxSegment >> 8), byte(MaxSegment & 0xff), 1, 3, 3, windowShift}

// segment is one synthetic TCP segment.
type segment struct {
	src, dst netip.AddrPort
	seq, ack uint32
	flags    uint8
	ipID     uint16 // IPv4 identification; unused for IPv6
	payload  []byte
}

// appendSegment appends seg as an IPv4 or IPv6 packet (by the family of
// seg.src, which must equal seg.dst's and be unmapped) with valid IP and TCP
// checksums, and returns the extended slice. len(seg.payload) must not exceed
// MaxSegment.
func appendSegment(b []byte, seg *segment) []byte {
	var opts []byte
	if seg.flags&tcpSYN != 0 {
		opts = synOptions[:]
	}
	tcpLen := tcpHeaderLen + len(opts) + len(seg.payload)
	start := len(b)
	v4 := seg.src.Addr().Is4()
	if v4 {
		var h [ipv4HeaderLen]byte
		h[0] = 0x45
		binary.BigEndian.PutUint16(h[2:], uint16(ipv4HeaderLen+tcpLen))
		binary.BigEndian.PutUint16(h[4:], seg.ipID)
		h[6] = 0x40 // don't fragment
		h[8] = 64   // TTL
		h[9] = 6    // TCP
		s, d := seg.src.Addr().As4(), seg.dst.Addr().As4()
		copy(h[12:], s[:])
		copy(h[16:], d[:])
		binary.BigEndian.PutUint16(h[10:], ^fold(sum(0, h[:])))
		b = append(b, h[:]...)
	} else {
		var h [ipv6HeaderLen]byte
		h[0] = 0x60
		binary.BigEndian.PutUint16(h[4:], uint16(tcpLen))
		h[6] = 6  // TCP
		h[7] = 64 // hop limit
		s, d := seg.src.Addr().As16(), seg.dst.Addr().As16()
		copy(h[8:], s[:])
		copy(h[24:], d[:])
		b = append(b, h[:]...)
	}
	tcpStart := len(b)
	var t [tcpHeaderLen]byte
	binary.BigEndian.PutUint16(t[0:], seg.src.Port())
	binary.BigEndian.PutUint16(t[2:], seg.dst.Port())
	binary.BigEndian.PutUint32(t[4:], seg.seq)
	binary.BigEndian.PutUint32(t[8:], seg.ack)
	t[12] = byte((tcpHeaderLen + len(opts)) / 4 << 4)
	t[13] = seg.flags
	binary.BigEndian.PutUint16(t[14:], 0xffff) // window
	b = append(b, t[:]...)
	b = append(b, opts...)
	b = append(b, seg.payload...)

	// Pseudo-header: addresses, protocol, TCP length.
	var c uint32
	if v4 {
		c = sum(c, b[start+12:start+20])
	} else {
		c = sum(c, b[start+8:start+40])
	}
	c += 6 + uint32(tcpLen)
	c = sum(c, b[tcpStart:])
	binary.BigEndian.PutUint16(b[tcpStart+16:], ^fold(c))
	return b
}

// sum adds b as big-endian 16-bit words (a trailing odd byte padded with
// zero) to the one's-complement accumulator c.
func sum(c uint32, b []byte) uint32 {
	for len(b) >= 8 {
		c += uint32(binary.BigEndian.Uint16(b)) + uint32(binary.BigEndian.Uint16(b[2:])) +
			uint32(binary.BigEndian.Uint16(b[4:])) + uint32(binary.BigEndian.Uint16(b[6:]))
		// Fold often enough that 32 bits never overflow (4 words add < 2^18).
		c = c&0xffff + c>>16
		b = b[8:]
	}
	for len(b) >= 2 {
		c += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		c += uint32(b[0]) << 8
	}
	return c
}

// fold reduces a one's-complement accumulator to 16 bits.
func fold(c uint32) uint16 {
	for c > 0xffff {
		c = c&0xffff + c>>16
	}
	return uint16(c)
}
