package dissect

import (
	"encoding/binary"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

type decodeResult uint8

const (
	decodeOK decodeResult = iota
	decodeNotIP
	decodeBad
	decodeFragment
	decodeOtherL4
)

// tcpHeader is what the pipeline uses of a TCP header.
type tcpHeader struct {
	seq                uint32
	syn, ack, fin, rst bool
	payload            []byte
}

// decoder decodes link, network and transport headers without allocating. Its
// results are reused: they are valid until the next call, and payloads point into
// the frame.
//
// Frames of the common shapes (Ethernet with at most one 802.1Q tag or raw IP;
// IPv4 without options or IPv6 without extension headers; TCP or UDP) are decoded
// by hand. Every other frame, and every frame the fast path finds anything unusual
// in, goes through gopacket's DecodingLayerParser, whose verdicts (not IP,
// undecodable, fragment, other L4) the fast path never second-guesses.
type decoder struct {
	eth   layers.Ethernet
	dot1q layers.Dot1Q
	sll   layers.LinuxSLL
	sll2  layers.LinuxSLL2
	loop  layers.Loopback
	ip4   layers.IPv4
	ip6   layers.IPv6
	tcp   layers.TCP
	udp   layers.UDP
	pay   gopacket.Payload

	parsers map[gopacket.LayerType]*gopacket.DecodingLayerParser
	types   []gopacket.LayerType

	proto Transport
	// Addresses in their 16-byte form as two big-endian words (IPv4 mapped into
	// IPv6), the form flow keys are made of; v4 tells them apart from IPv6
	// addresses that are IPv4-mapped on the wire.
	src, dst         [2]uint64
	v4               bool
	srcPort, dstPort uint16
	th               tcpHeader // TCP header, when proto is TransportTCP
	udpPayload       []byte    // UDP payload, when proto is TransportUDP
}

func (d *decoder) init() {
	d.parsers = make(map[gopacket.LayerType]*gopacket.DecodingLayerParser)
	all := []gopacket.DecodingLayer{&d.eth, &d.dot1q, &d.sll, &d.sll2, &d.loop, &d.ip4, &d.ip6, &d.tcp, &d.udp, &d.pay}
	for _, first := range []gopacket.LayerType{
		layers.LayerTypeEthernet, layers.LayerTypeLinuxSLL, layers.LayerTypeLinuxSLL2,
		layers.LayerTypeLoopback, layers.LayerTypeIPv4, layers.LayerTypeIPv6,
	} {
		dlp := gopacket.NewDecodingLayerParser(first, all...)
		dlp.IgnoreUnsupported = true
		d.parsers[first] = dlp
	}
	d.types = make([]gopacket.LayerType, 0, 8)
}

// firstLayer maps a link type to the layer its frames start with.
func firstLayer(lt layers.LinkType, data []byte) (gopacket.LayerType, bool) {
	switch lt {
	case layers.LinkTypeEthernet:
		return layers.LayerTypeEthernet, true
	case layers.LinkTypeLinuxSLL:
		return layers.LayerTypeLinuxSLL, true
	case layers.LinkTypeLinuxSLL2:
		return layers.LayerTypeLinuxSLL2, true
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		return layers.LayerTypeLoopback, true
	case layers.LinkTypeIPv4:
		return layers.LayerTypeIPv4, true
	case layers.LinkTypeIPv6:
		return layers.LayerTypeIPv6, true
	case layers.LinkTypeRaw, 12: // 12: LINKTYPE_RAW's DLT value on some systems
		if len(data) > 0 && data[0]>>4 == 6 {
			return layers.LayerTypeIPv6, true
		}
		return layers.LayerTypeIPv4, true
	}
	return 0, false
}

// SupportedLinkType reports whether the pipeline decodes frames of this link type.
func SupportedLinkType(lt layers.LinkType) bool {
	_, ok := firstLayer(lt, nil)
	return ok
}

func (d *decoder) decode(lt layers.LinkType, data []byte) decodeResult {
	if r, ok := d.fast(lt, data); ok {
		return r
	}
	return d.layered(lt, data)
}

// fast decodes the common frame shapes. ok is false when the frame needs the general
// decoder: another link or network layer, IP options, extension headers, another
// transport, or anything malformed.
func (d *decoder) fast(lt layers.LinkType, data []byte) (r decodeResult, ok bool) {
	var ip []byte
	v6 := false
	switch lt {
	case layers.LinkTypeEthernet:
		if len(data) < 14 {
			return 0, false
		}
		et := binary.BigEndian.Uint16(data[12:14])
		off := 14
		if et == uint16(layers.EthernetTypeDot1Q) {
			if len(data) < 18 {
				return 0, false
			}
			et = binary.BigEndian.Uint16(data[16:18])
			off = 18
		}
		switch et {
		case uint16(layers.EthernetTypeIPv4):
		case uint16(layers.EthernetTypeIPv6):
			v6 = true
		default:
			return 0, false
		}
		ip = data[off:]
	case layers.LinkTypeIPv4:
		ip = data
	case layers.LinkTypeIPv6:
		ip, v6 = data, true
	case layers.LinkTypeRaw, 12:
		ip = data
		v6 = len(data) > 0 && data[0]>>4 == 6
	default:
		return 0, false
	}

	var l4 []byte
	var proto uint8
	if !v6 {
		// layers.IPv4.DecodeFromBytes without options; the version nibble is not
		// checked there either.
		if len(ip) < 20 || ip[0]&0x0f != 5 {
			return 0, false
		}
		length := int(binary.BigEndian.Uint16(ip[2:4]))
		if length == 0 {
			length = len(ip) // TSO: the field is left zero
		}
		if length < 20 {
			return 0, false
		}
		if len(ip) > length {
			ip = ip[:length]
		}
		if ff := binary.BigEndian.Uint16(ip[6:8]); ff&0x2000 != 0 || ff&0x1fff != 0 {
			return decodeFragment, true
		}
		proto = ip[9]
		d.v4 = true
		d.src = [2]uint64{0, 0xffff<<32 | uint64(binary.BigEndian.Uint32(ip[12:16]))}
		d.dst = [2]uint64{0, 0xffff<<32 | uint64(binary.BigEndian.Uint32(ip[16:20]))}
		l4 = ip[20:]
	} else {
		// layers.IPv6.DecodeFromBytes without extension headers or jumbograms.
		if len(ip) < 40 {
			return 0, false
		}
		plen := int(binary.BigEndian.Uint16(ip[4:6]))
		proto = ip[6]
		if plen == 0 {
			return 0, false
		}
		l4 = ip[40:]
		if plen < len(l4) {
			l4 = l4[:plen]
		}
		d.v4 = false
		d.src = [2]uint64{binary.BigEndian.Uint64(ip[8:16]), binary.BigEndian.Uint64(ip[16:24])}
		d.dst = [2]uint64{binary.BigEndian.Uint64(ip[24:32]), binary.BigEndian.Uint64(ip[32:40])}
	}

	switch proto {
	case uint8(layers.IPProtocolTCP):
		// layers.TCP.DecodeFromBytes (options never make it fail).
		if len(l4) < 20 {
			return 0, false
		}
		hl := int(l4[12]>>4) * 4
		if hl < 20 || hl > len(l4) {
			return 0, false
		}
		fl := l4[13]
		d.proto = TransportTCP
		d.srcPort = binary.BigEndian.Uint16(l4[0:2])
		d.dstPort = binary.BigEndian.Uint16(l4[2:4])
		d.th = tcpHeader{
			seq: binary.BigEndian.Uint32(l4[4:8]),
			fin: fl&0x01 != 0, syn: fl&0x02 != 0, rst: fl&0x04 != 0, ack: fl&0x10 != 0,
			payload: l4[hl:],
		}
		return decodeOK, true
	case uint8(layers.IPProtocolUDP):
		// layers.UDP.DecodeFromBytes.
		if len(l4) < 8 {
			return 0, false
		}
		ulen := int(binary.BigEndian.Uint16(l4[4:6]))
		switch {
		case ulen >= 8:
			d.udpPayload = l4[8:min(ulen, len(l4))]
		case ulen == 0:
			d.udpPayload = l4[8:]
		default:
			return 0, false
		}
		d.proto = TransportUDP
		d.srcPort = binary.BigEndian.Uint16(l4[0:2])
		d.dstPort = binary.BigEndian.Uint16(l4[2:4])
		return decodeOK, true
	}
	return 0, false
}

// layered decodes any supported frame with gopacket's DecodingLayerParser.
func (d *decoder) layered(lt layers.LinkType, data []byte) decodeResult {
	first, ok := firstLayer(lt, data)
	if !ok {
		return decodeNotIP
	}
	dlp := d.parsers[first]
	d.types = d.types[:0]
	err := dlp.DecodeLayers(data, &d.types)
	var haveIP, haveL4 bool
	var srcIP, dstIP netip.Addr
	for _, t := range d.types {
		switch t {
		case layers.LayerTypeIPv4:
			haveIP = true
			if d.ip4.Flags&layers.IPv4MoreFragments != 0 || d.ip4.FragOffset != 0 {
				return decodeFragment
			}
			srcIP, _ = netip.AddrFromSlice(d.ip4.SrcIP.To4())
			dstIP, _ = netip.AddrFromSlice(d.ip4.DstIP.To4())
		case layers.LayerTypeIPv6:
			haveIP = true
			srcIP, _ = netip.AddrFromSlice(d.ip6.SrcIP.To16())
			dstIP, _ = netip.AddrFromSlice(d.ip6.DstIP.To16())
		case layers.LayerTypeTCP:
			haveL4 = true
			d.proto = TransportTCP
			d.srcPort, d.dstPort = uint16(d.tcp.SrcPort), uint16(d.tcp.DstPort)
			d.th = tcpHeader{seq: d.tcp.Seq, syn: d.tcp.SYN, ack: d.tcp.ACK, fin: d.tcp.FIN, rst: d.tcp.RST, payload: d.tcp.Payload}
		case layers.LayerTypeUDP:
			haveL4 = true
			d.proto = TransportUDP
			d.srcPort, d.dstPort = uint16(d.udp.SrcPort), uint16(d.udp.DstPort)
			d.udpPayload = d.udp.Payload
		}
	}
	switch {
	case !haveIP && err != nil:
		return decodeBad
	case !haveIP:
		return decodeNotIP
	case haveL4:
		// A TCP/UDP header that decoded is usable even if a later layer failed.
		if !srcIP.IsValid() || !dstIP.IsValid() {
			return decodeBad
		}
		d.v4, d.src, d.dst = srcIP.Is4(), addrWords(srcIP), addrWords(dstIP)
		return decodeOK
	case err != nil:
		return decodeBad
	}
	return decodeOtherL4
}

// addrWords returns a's 16-byte form as two big-endian words.
func addrWords(a netip.Addr) [2]uint64 {
	b := a.As16()
	return [2]uint64{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// wordsAddr is the inverse of addrWords; v4 unmaps an IPv4-mapped address.
func wordsAddr(w [2]uint64, v4 bool) netip.Addr {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], w[0])
	binary.BigEndian.PutUint64(b[8:], w[1])
	a := netip.AddrFrom16(b)
	if v4 {
		return a.Unmap()
	}
	return a
}
