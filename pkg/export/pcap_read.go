package export

import (
	"fmt"
	"io"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// Classic pcap magic numbers, as read in the file's own byte order.
const (
	pcapMagicMicro    = 0xa1b2c3d4
	pcapMagicNano     = 0xa1b23c4d
	pcapMagicModified = 0xa1b2cd34 // Alexey Kuznetzov's patched libpcap: 8 more bytes per record
	pcapHeaderLen     = 24
)

// startPcap reads a classic pcap file header. It returns errNotPcap if the magic is not
// one it knows.
func (r *Reader) startPcap() error {
	magic := r.peek(4)
	if len(magic) < 4 {
		return errNotPcap
	}
	var res TsResolution
	for _, order := range []byteOrder{{big: false}, {big: true}} {
		switch order.Uint32(magic) {
		case pcapMagicMicro:
			r.order, res = order, TsMicroseconds
		case pcapMagicNano:
			r.order, res = order, TsNanoseconds
		case pcapMagicModified:
			r.order, res, r.modified = order, TsMicroseconds, true
		}
	}
	if res == 0 {
		return errNotPcap
	}
	r.format = FormatPcap
	h, err := r.readRecord(0, "pcap file header", pcapHeaderLen, 0)
	if err != nil {
		return err
	}
	if major, minor := r.order.Uint16(h[4:]), r.order.Uint16(h[6:]); major != 2 {
		return formatErr(0, "unsupported pcap version", "%d.%d (only 2.x exists)", major, minor)
	}
	snap := r.order.Uint32(h[16:])
	// The top bits of the link type field carry the FCS length; the link type proper is
	// the low 16 bits (libpcap's LT_LINKTYPE masks 26 bits but none above 16 are assigned).
	lt := r.order.Uint32(h[20:]) & 0x03ffffff
	if lt > 0xffff {
		return formatErr(20, "invalid pcap link type", "%d", lt)
	}
	r.ifaces = []Interface{{LinkType: layers.LinkType(lt), SnapLen: clampInt(snap), TsResolution: res}}
	r.ts = []tsConv{newTsConv(res, 0)}
	return nil
}

func (r *Reader) nextPcap() error {
	start := r.off
	n := 16
	if r.modified {
		n = 24
	}
	h, err := r.read(n)
	if err != nil {
		if err == io.EOF {
			return err
		}
		if err == io.ErrUnexpectedEOF {
			return &FormatError{Offset: start, Msg: "truncated packet record header",
				Detail: fmt.Sprintf("need %d bytes, have %d", n, len(h)), Err: io.ErrUnexpectedEOF}
		}
		return fmt.Errorf("reading packet record at offset %d: %w", start, err)
	}
	sec := r.order.Uint32(h)
	frac := r.order.Uint32(h[4:])
	caplen := r.order.Uint32(h[8:])
	wirelen := r.order.Uint32(h[12:])
	var flags uint32
	if r.modified {
		// h[16:20] ifindex, h[20:22] protocol, h[22] pkt_type (Linux PACKET_*), h[23] pad.
		switch h[22] {
		case 0, 1, 2, 3: // PACKET_HOST, _BROADCAST, _MULTICAST, _OTHERHOST
			flags = FlagInbound
		case 4: // PACKET_OUTGOING
			flags = FlagOutbound
		}
	}
	if caplen > MaxBlockSize {
		return formatErr(start, "corrupt packet record", "captured length %d exceeds the %d MiB limit", caplen, MaxBlockSize>>20)
	}
	data, err := r.readRecord(start, "packet record", n+int(caplen), n)
	if err != nil {
		return err
	}
	ns := int64(frac)
	if r.ifaces[0].TsResolution == TsMicroseconds {
		ns *= 1000
	}
	r.pkt = Packet{
		Timestamp:     time.Unix(int64(sec), ns),
		CaptureLength: int(caplen),
		Length:        clampInt(wirelen),
		Data:          data,
		Flags:         flags,
	}
	return nil
}

func clampInt(v uint32) int {
	if uint64(v) > uint64(maxInt) {
		return maxInt
	}
	return int(v)
}

const maxInt = int(^uint(0) >> 1)
