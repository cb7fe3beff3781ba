package dissect

import (
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

// decoder decodes link, network and transport headers without allocating. Its layer
// values are reused: results are valid until the next call.
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

	proto            Transport
	srcIP, dstIP     netip.Addr
	srcPort, dstPort uint16
	isV6             bool
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
	first, ok := firstLayer(lt, data)
	if !ok {
		return decodeNotIP
	}
	dlp := d.parsers[first]
	d.types = d.types[:0]
	err := dlp.DecodeLayers(data, &d.types)
	var haveIP, haveL4 bool
	for _, t := range d.types {
		switch t {
		case layers.LayerTypeIPv4:
			haveIP = true
			d.isV6 = false
			if d.ip4.Flags&layers.IPv4MoreFragments != 0 || d.ip4.FragOffset != 0 {
				return decodeFragment
			}
			d.srcIP, _ = netip.AddrFromSlice(d.ip4.SrcIP.To4())
			d.dstIP, _ = netip.AddrFromSlice(d.ip4.DstIP.To4())
		case layers.LayerTypeIPv6:
			haveIP = true
			d.isV6 = true
			d.srcIP, _ = netip.AddrFromSlice(d.ip6.SrcIP.To16())
			d.dstIP, _ = netip.AddrFromSlice(d.ip6.DstIP.To16())
		case layers.LayerTypeTCP:
			haveL4 = true
			d.proto = TransportTCP
			d.srcPort, d.dstPort = uint16(d.tcp.SrcPort), uint16(d.tcp.DstPort)
		case layers.LayerTypeUDP:
			haveL4 = true
			d.proto = TransportUDP
			d.srcPort, d.dstPort = uint16(d.udp.SrcPort), uint16(d.udp.DstPort)
		}
	}
	switch {
	case !haveIP && err != nil:
		return decodeBad
	case !haveIP:
		return decodeNotIP
	case haveL4:
		// A TCP/UDP header that decoded is usable even if a later layer failed.
		if !d.srcIP.IsValid() || !d.dstIP.IsValid() {
			return decodeBad
		}
		return decodeOK
	case err != nil:
		return decodeBad
	}
	return decodeOtherL4
}

// netFlow returns the network-layer flow of the last decoded packet.
func (d *decoder) netFlow() gopacket.Flow {
	if d.isV6 {
		return d.ip6.NetworkFlow()
	}
	return d.ip4.NetworkFlow()
}

func netAddr(e gopacket.Endpoint) (netip.Addr, bool) {
	return netip.AddrFromSlice(e.Raw())
}

func tcpPort(e gopacket.Endpoint) uint16 {
	r := e.Raw()
	if len(r) != 2 {
		return 0
	}
	return uint16(r[0])<<8 | uint16(r[1])
}
