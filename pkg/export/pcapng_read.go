package export

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"

	"github.com/gopacket/gopacket/layers"
)

// pcapng block types.
const (
	blockSHB = 0x0a0d0d0a // Section Header
	blockIDB = 0x00000001 // Interface Description
	blockOPB = 0x00000002 // Packet (obsolete)
	blockSPB = 0x00000003 // Simple Packet
	blockNRB = 0x00000004 // Name Resolution
	blockISB = 0x00000005 // Interface Statistics
	blockEPB = 0x00000006 // Enhanced Packet

	byteOrderMagic = 0x1a2b3c4d
)

// Option codes.
const (
	optEnd     = 0
	optComment = 1

	shbHardware = 2
	shbOS       = 3
	shbUserAppl = 4

	ifName        = 2
	ifDescription = 3
	ifTsResol     = 9
	ifFilter      = 11
	ifOS          = 12
	ifTsOffset    = 14
	ifHardware    = 15

	epbFlags = 2 // also pack_flags in the obsolete packet block

	isbStartTime    = 2
	isbEndTime      = 3
	isbIfRecv       = 4
	isbIfDrop       = 5
	isbFilterAccept = 6
	isbOSDrop       = 7
	isbUsrDeliv     = 8

	nrbEnd  = 0
	nrbIPv4 = 1
	nrbIPv6 = 2
)

func blockName(t uint32) string {
	switch t {
	case blockSHB:
		return "section header block"
	case blockIDB:
		return "interface description block"
	case blockOPB:
		return "obsolete packet block"
	case blockSPB:
		return "simple packet block"
	case blockNRB:
		return "name resolution block"
	case blockISB:
		return "interface statistics block"
	case blockEPB:
		return "enhanced packet block"
	}
	return fmt.Sprintf("block of type 0x%08x", t)
}

// startPcapNG reads the first section header, then reads ahead to the first packet so
// that Interfaces describes the first section.
func (r *Reader) startPcapNG() error {
	t, body, start, err := r.readBlock()
	if err != nil {
		return err
	}
	if t != blockSHB { // cannot happen: start checked the magic
		return formatErr(start, "pcapng file does not start with a section header block", "block type 0x%08x", t)
	}
	if err := r.parseBlock(t, body, start); err != nil {
		return err
	}
	if err := r.nextPcapNG(); err != nil {
		r.pendingErr = err
	} else {
		r.pending = true
	}
	return nil
}

func (r *Reader) nextPcapNG() error {
	for {
		t, body, start, err := r.readBlock()
		if err != nil {
			return err
		}
		if err := r.parseBlock(t, body, start); err != nil {
			if err == errPacket {
				return nil
			}
			return err
		}
	}
}

// errPacket tells nextPcapNG that parseBlock stored a packet in r.pkt.
var errPacket = errors.New("packet")

// readBlock reads one whole block. body excludes the type, the two lengths and, for a
// section header, nothing else: the byte-order magic is body[0:4].
func (r *Reader) readBlock() (typ uint32, body []byte, start int64, err error) {
	start = r.off
	h, err := r.read(8)
	if err != nil {
		if err == io.EOF {
			return 0, nil, start, io.EOF
		}
		if err == io.ErrUnexpectedEOF {
			return 0, nil, start, &FormatError{Offset: start, Msg: "truncated block header",
				Detail: fmt.Sprintf("need 8 bytes, have %d", len(h)), Err: io.ErrUnexpectedEOF}
		}
		return 0, nil, start, fmt.Errorf("reading block at offset %d: %w", start, err)
	}
	raw := r.hdr[:8]
	copy(raw, h)
	have := 8
	if bytes.Equal(raw[:4], []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		// A new section: its byte order comes from the magic after the length.
		bom, err := r.read(4)
		if err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return 0, nil, start, &FormatError{Offset: start, Msg: "truncated section header block",
					Detail: fmt.Sprintf("need at least 12 bytes, have %d", 8+len(bom)), Err: io.ErrUnexpectedEOF}
			}
			return 0, nil, start, fmt.Errorf("reading block at offset %d: %w", start, err)
		}
		switch {
		case binary.LittleEndian.Uint32(bom) == byteOrderMagic:
			r.order = byteOrder{big: false}
		case binary.BigEndian.Uint32(bom) == byteOrderMagic:
			r.order = byteOrder{big: true}
		default:
			return 0, nil, start, formatErr(start, "section header block with a bad byte-order magic", "% x", bom)
		}
		have = 12
	}
	typ = r.order.Uint32(raw[:4])
	n := r.order.Uint32(raw[4:])
	switch {
	case n < 12 || typ == blockSHB && n < 28:
		return 0, nil, start, formatErr(start, "corrupt "+blockName(typ), "block length %d is too small", n)
	case n%4 != 0:
		return 0, nil, start, formatErr(start, "corrupt "+blockName(typ), "block length %d is not a multiple of 4", n)
	case n > MaxBlockSize:
		return 0, nil, start, formatErr(start, "corrupt "+blockName(typ), "block length %d exceeds the %d MiB limit", n, MaxBlockSize>>20)
	}
	rest, err := r.readRecord(start, blockName(typ), int(n), have)
	if err != nil {
		return 0, nil, start, err
	}
	if trail := r.order.Uint32(rest[len(rest)-4:]); trail != n {
		return 0, nil, start, formatErr(start, "corrupt "+blockName(typ), "block length %d at the start but %d at the end", n, trail)
	}
	if typ == blockSHB {
		// Give the parser the whole body including the byte-order magic.
		body = make([]byte, 4, n-8)
		r.order.PutUint32(body, byteOrderMagic)
		body = append(body, rest[:len(rest)-4]...)
		return typ, body, start, nil
	}
	return typ, rest[:len(rest)-4], start, nil
}

// parseBlock decodes one block. For packet blocks it fills r.pkt and returns errPacket.
// body starts at offset start+8.
func (r *Reader) parseBlock(t uint32, body []byte, start int64) error {
	switch t {
	case blockSHB:
		return r.parseSHB(body, start)
	case blockIDB:
		return r.parseIDB(body, start)
	case blockEPB:
		return r.parseEPB(body, start)
	case blockSPB:
		return r.parseSPB(body, start)
	case blockOPB:
		return r.parseOPB(body, start)
	case blockNRB:
		return r.parseNRB(body, start)
	case blockISB:
		return r.parseISB(body, start)
	}
	// Decryption secrets, systemd journal, custom and unknown blocks carry no packets.
	return nil
}

// options calls fn for each option in b, which starts at offset off of the stream.
func (r *Reader) options(b []byte, off int64, what string, fn func(code uint16, val []byte) error) error {
	for len(b) > 0 {
		if len(b) < 4 {
			return formatErr(off, "corrupt "+what, "%d stray bytes after the last option", len(b))
		}
		code, n := r.order.Uint16(b), int(r.order.Uint16(b[2:]))
		if code == optEnd {
			return nil
		}
		if n > len(b)-4 {
			return formatErr(off, "corrupt "+what, "option %d claims %d bytes, %d left in the block", code, n, len(b)-4)
		}
		if err := fn(code, b[4:4+n]); err != nil {
			return err
		}
		adv := 4 + pad4(n)
		if adv > len(b) {
			adv = len(b) // some writers omit the padding of the last option
		}
		b = b[adv:]
		off += int64(adv)
	}
	return nil
}

func pad4(n int) int { return (n + 3) &^ 3 }

func optString(v []byte) string { return string(bytes.TrimRight(v, "\x00")) }

func (r *Reader) parseSHB(body []byte, start int64) error {
	// body: byte-order magic, major, minor, section length (8), options
	if major, minor := r.order.Uint16(body[4:]), r.order.Uint16(body[6:]); major != 1 {
		return formatErr(start, "unsupported pcapng version", "%d.%d", major, minor)
	}
	// The options (shb_hardware, shb_os, shb_userappl) are not needed but are validated.
	if err := r.options(body[16:], start+24, "section header block", func(uint16, []byte) error { return nil }); err != nil {
		return err
	}
	r.sectionBase = len(r.ifaces)
	return nil
}

func (r *Reader) parseIDB(body []byte, start int64) error {
	if len(body) < 8 {
		return formatErr(start, "corrupt interface description block", "body of %d bytes, need at least 8", len(body))
	}
	iface := Interface{
		LinkType:     layers.LinkType(r.order.Uint16(body)),
		SnapLen:      clampInt(r.order.Uint32(body[4:])),
		TsResolution: TsMicroseconds,
	}
	var tsOffset int64
	err := r.options(body[8:], start+16, "interface description block", func(code uint16, v []byte) error {
		switch code {
		case ifName:
			iface.Name = optString(v)
		case ifDescription:
			iface.Description = optString(v)
		case ifOS:
			iface.OS = optString(v)
		case ifHardware:
			iface.Hardware = optString(v)
		case ifFilter:
			if len(v) > 0 && v[0] == 0 { // 0: libpcap filter string
				iface.Filter = optString(v[1:])
			}
		case ifTsResol:
			if len(v) != 1 {
				return formatErr(start, "corrupt interface description block", "if_tsresol of %d bytes", len(v))
			}
			if !validTsResolution(TsResolution(v[0])) {
				return formatErr(start, "unsupported timestamp resolution", "if_tsresol 0x%02x", v[0])
			}
			iface.TsResolution = TsResolution(v[0])
		case ifTsOffset:
			if len(v) != 8 {
				return formatErr(start, "corrupt interface description block", "if_tsoffset of %d bytes", len(v))
			}
			tsOffset = int64(r.order.Uint64(v))
		}
		return nil
	})
	if err != nil {
		return err
	}
	r.ifaces = append(r.ifaces, iface)
	r.ts = append(r.ts, newTsConv(iface.TsResolution, tsOffset))
	return nil
}

// iface maps a section-local interface id to the global index.
func (r *Reader) iface(id uint32, start int64, what string) (int, error) {
	if n := len(r.ifaces) - r.sectionBase; uint64(id) >= uint64(n) {
		return 0, formatErr(start, "corrupt "+what, "refers to interface %d, the section has %d", id, n)
	}
	return r.sectionBase + int(id), nil
}

// packet fills r.pkt from the common layout of enhanced and obsolete packet blocks:
// timestamp high and low at body[4:12], lengths at body[12:20], data from body[20:].
func (r *Reader) packet(body []byte, start int64, idx int, what string) error {
	caplen, wirelen := r.order.Uint32(body[12:]), r.order.Uint32(body[16:])
	if uint64(caplen) > uint64(len(body)-20) {
		return formatErr(start, "corrupt "+what, "captured length %d exceeds the block's %d data bytes", caplen, len(body)-20)
	}
	ticks := uint64(r.order.Uint32(body[4:]))<<32 | uint64(r.order.Uint32(body[8:]))
	r.pkt = Packet{
		Timestamp:     r.ts[idx].time(ticks),
		Interface:     idx,
		CaptureLength: int(caplen),
		Length:        clampInt(wirelen),
		Data:          body[20 : 20+caplen],
	}
	optOff := min(20+pad4(int(caplen)), len(body))
	return r.options(body[optOff:], start+8+int64(optOff), what, r.packetOption)
}

func (r *Reader) packetOption(code uint16, v []byte) error {
	switch code {
	case optComment:
		if r.pkt.Comment == "" {
			r.pkt.Comment = optString(v)
		}
	case epbFlags:
		if len(v) == 4 {
			r.pkt.Flags = r.order.Uint32(v)
		}
	}
	return nil
}

func (r *Reader) parseEPB(body []byte, start int64) error {
	const what = "enhanced packet block"
	if len(body) < 20 {
		return formatErr(start, "corrupt "+what, "body of %d bytes, need at least 20", len(body))
	}
	idx, err := r.iface(r.order.Uint32(body), start, what)
	if err != nil {
		return err
	}
	if err := r.packet(body, start, idx, what); err != nil {
		return err
	}
	return errPacket
}

func (r *Reader) parseOPB(body []byte, start int64) error {
	const what = "obsolete packet block"
	if len(body) < 20 {
		return formatErr(start, "corrupt "+what, "body of %d bytes, need at least 20", len(body))
	}
	// interface id (2 bytes), drops count (2 bytes)
	idx, err := r.iface(uint32(r.order.Uint16(body)), start, what)
	if err != nil {
		return err
	}
	if err := r.packet(body, start, idx, what); err != nil {
		return err
	}
	return errPacket
}

func (r *Reader) parseSPB(body []byte, start int64) error {
	const what = "simple packet block"
	if len(body) < 4 {
		return formatErr(start, "corrupt "+what, "body of %d bytes, need at least 4", len(body))
	}
	idx, err := r.iface(0, start, what)
	if err != nil {
		return err
	}
	wirelen := r.order.Uint32(body)
	data := body[4:]
	// The captured length is implicit: the packet length, cut to the snapshot length.
	caplen := uint64(len(data))
	caplen = min(caplen, uint64(wirelen))
	if snap := r.ifaces[idx].SnapLen; snap > 0 {
		caplen = min(caplen, uint64(snap))
	}
	r.pkt = Packet{Interface: idx, CaptureLength: int(caplen), Length: clampInt(wirelen), Data: data[:caplen]}
	return errPacket
}

func (r *Reader) parseNRB(body []byte, start int64) error {
	const what = "name resolution block"
	b, off := body, start+8
	for len(b) > 0 {
		if len(b) < 4 {
			return formatErr(off, "corrupt "+what, "%d stray bytes after the last record", len(b))
		}
		typ, n := r.order.Uint16(b), int(r.order.Uint16(b[2:]))
		if typ == nrbEnd {
			b = b[4:]
			break
		}
		if n > len(b)-4 {
			return formatErr(off, "corrupt "+what, "record claims %d bytes, %d left in the block", n, len(b)-4)
		}
		v := b[4 : 4+n]
		var addr netip.Addr
		switch {
		case typ == nrbIPv4 && n >= 4:
			addr = netip.AddrFrom4([4]byte(v[:4]))
			v = v[4:]
		case typ == nrbIPv6 && n >= 16:
			addr = netip.AddrFrom16([16]byte(v[:16]))
			v = v[16:]
		}
		if addr.IsValid() {
			rec := NameRecord{Addr: addr}
			for _, name := range bytes.Split(v, []byte{0}) {
				if len(name) > 0 {
					rec.Names = append(rec.Names, string(name))
				}
			}
			if len(rec.Names) > 0 {
				slices.Reverse(rec.Names) // see PcapNGWriter.AddNameResolution
				r.names = append(r.names, rec)
			}
		}
		adv := min(4+pad4(n), len(b))
		b = b[adv:]
		off += int64(adv)
	}
	// Options (ns_dnsname, ...) follow the end record; validate them, use none.
	return r.options(b, off, what, func(uint16, []byte) error { return nil })
}

func (r *Reader) parseISB(body []byte, start int64) error {
	const what = "interface statistics block"
	if len(body) < 12 {
		return formatErr(start, "corrupt "+what, "body of %d bytes, need at least 12", len(body))
	}
	idx, err := r.iface(r.order.Uint32(body), start, what)
	if err != nil {
		return err
	}
	conv := &r.ts[idx]
	stamp := func(v []byte) uint64 { return uint64(r.order.Uint32(v))<<32 | uint64(r.order.Uint32(v[4:])) }
	s := InterfaceStats{Interface: idx, Timestamp: conv.time(stamp(body[4:]))}
	err = r.options(body[12:], start+20, what, func(code uint16, v []byte) error {
		if code == optComment {
			if s.Comment == "" {
				s.Comment = optString(v)
			}
			return nil
		}
		if len(v) != 8 {
			return nil // not a statistics option we know; ignore it like Wireshark
		}
		switch code {
		case isbStartTime:
			s.Start = conv.time(stamp(v))
		case isbEndTime:
			s.End = conv.time(stamp(v))
		case isbIfRecv:
			s.Received = Count(r.order.Uint64(v))
		case isbIfDrop:
			s.Dropped = Count(r.order.Uint64(v))
		case isbFilterAccept:
			s.FilterAccepted = Count(r.order.Uint64(v))
		case isbOSDrop:
			s.OSDropped = Count(r.order.Uint64(v))
		case isbUsrDeliv:
			s.Delivered = Count(r.order.Uint64(v))
		}
		return nil
	})
	if err != nil {
		return err
	}
	r.stats = append(r.stats, s)
	return nil
}
