package bpfexpr

import (
	"encoding/binary"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// testPacket is a packet of the test corpus: its captured bytes and its
// length on the wire.
type testPacket struct {
	name    string
	data    []byte
	wireLen int
}

var (
	macA     = net.HardwareAddr{0x00, 0x11, 0x22, 0x33, 0x44, 0x55}
	macB     = net.HardwareAddr{0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb}
	macBcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	macMDNS4 = net.HardwareAddr{0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb}
	macMDNS6 = net.HardwareAddr{0x33, 0x33, 0x00, 0x00, 0x00, 0xfb}
	macSTP   = net.HardwareAddr{0x01, 0x80, 0xc2, 0x00, 0x00, 0x00}
)

func ser(tb testing.TB, ls ...gopacket.SerializableLayer) []byte {
	tb.Helper()
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		tb.Fatalf("serializing test packet: %v", err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func eth(src, dst net.HardwareAddr, t layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: src, DstMAC: dst, EthernetType: t}
}

func ip4(src, dst string, proto layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: proto,
		SrcIP: net.ParseIP(src).To4(), DstIP: net.ParseIP(dst).To4()}
}

func ip6(src, dst string, next layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: next,
		SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
}

func tcp(sport, dport uint16, flags string, nl gopacket.NetworkLayer) *layers.TCP {
	t := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), Seq: 1000, Window: 65535}
	for _, f := range flags {
		switch f {
		case 'S':
			t.SYN = true
		case 'A':
			t.ACK = true
		case 'F':
			t.FIN = true
		case 'R':
			t.RST = true
		case 'P':
			t.PSH = true
		case 'U':
			t.URG = true
		case 'E':
			t.ECE = true
		case 'C':
			t.CWR = true
		}
	}
	if nl != nil {
		_ = t.SetNetworkLayerForChecksum(nl)
	}
	return t
}

func udp(sport, dport uint16, nl gopacket.NetworkLayer) *layers.UDP {
	u := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	if nl != nil {
		_ = u.SetNetworkLayerForChecksum(nl)
	}
	return u
}

func sctpHdr(sport, dport uint16) gopacket.Payload {
	b := make([]byte, 12+16)
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint32(b[4:], 0xdeadbeef)
	b[12] = 1 // INIT chunk
	binary.BigEndian.PutUint16(b[14:], 16)
	return b
}

// corpus returns a diverse set of Ethernet frames: IPv4 and IPv6 TCP,
// UDP, ICMP, ICMPv6, SCTP, IGMP, ARP and RARP, IPv4 fragments, IPv6
// extension headers, 802.1Q and QinQ tags, 802.3/LLC, broadcast and
// multicast, and truncated captures.
func corpus(tb testing.TB) []testPacket {
	var ps []testPacket
	add := func(name string, data []byte) {
		ps = append(ps, testPacket{name: name, data: data, wireLen: len(data)})
	}
	pay := gopacket.Payload("GET / HTTP/1.1\r\nHost: example\r\n\r\n")

	// IPv4 TCP conversation 10.0.0.1:34567 <-> 10.0.0.2:80.
	for _, c := range []struct {
		name           string
		src, dst       string
		sport, dport   uint16
		flags          string
		payload        bool
		srcMAC, dstMAC net.HardwareAddr
	}{
		{"tcp4-syn", "10.0.0.1", "10.0.0.2", 34567, 80, "S", false, macA, macB},
		{"tcp4-synack", "10.0.0.2", "10.0.0.1", 80, 34567, "SA", false, macB, macA},
		{"tcp4-get", "10.0.0.1", "10.0.0.2", 34567, 80, "PA", true, macA, macB},
		{"tcp4-fin", "10.0.0.2", "10.0.0.1", 80, 34567, "FA", false, macB, macA},
		{"tcp4-rst", "10.0.0.1", "10.0.0.2", 34567, 80, "R", false, macA, macB},
		{"tcp4-ece-cwr-urg", "172.16.5.4", "10.1.2.3", 443, 8443, "SECU", false, macA, macB},
		{"tcp4-https", "192.168.1.10", "93.184.216.34", 51000, 443, "PA", true, macB, macA},
		{"tcp4-ssh", "10.0.0.2", "10.0.0.9", 22, 60022, "A", true, macB, macA},
	} {
		ip := ip4(c.src, c.dst, layers.IPProtocolTCP)
		ls := []gopacket.SerializableLayer{eth(c.srcMAC, c.dstMAC, layers.EthernetTypeIPv4), ip, tcp(c.sport, c.dport, c.flags, ip)}
		if c.payload {
			ls = append(ls, pay)
		}
		add(c.name, ser(tb, ls...))
	}

	// IPv4 with options: the transport header is 4 bytes further.
	{
		ip := ip4("10.0.0.3", "192.168.1.10", layers.IPProtocolTCP)
		ip.Options = []layers.IPv4Option{{OptionType: 1}, {OptionType: 1}, {OptionType: 1}, {OptionType: 0}}
		add("tcp4-ipopts", ser(tb, eth(macA, macB, layers.EthernetTypeIPv4), ip, tcp(8080, 53, "S", ip)))
	}

	// IPv4 UDP: DNS, NTP, big datagram, DHCP broadcast, mDNS multicast.
	{
		ip := ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolUDP)
		add("udp4-dns-query", ser(tb, eth(macA, macB, layers.EthernetTypeIPv4), ip, udp(33333, 53, ip), gopacket.Payload("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00")))
		ip = ip4("8.8.8.8", "10.0.0.1", layers.IPProtocolUDP)
		add("udp4-dns-answer", ser(tb, eth(macB, macA, layers.EthernetTypeIPv4), ip, udp(53, 33333, ip), gopacket.Payload("\x12\x34\x81\x80")))
		ip = ip4("10.0.0.1", "10.0.0.5", layers.IPProtocolUDP)
		add("udp4-ntp", ser(tb, eth(macA, macB, layers.EthernetTypeIPv4), ip, udp(123, 123, ip), gopacket.Payload(make([]byte, 48))))
		ip = ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolUDP)
		add("udp4-big", ser(tb, eth(macA, macB, layers.EthernetTypeIPv4), ip, udp(5000, 6000, ip), gopacket.Payload(make([]byte, 1200))))
		ip = ip4("0.0.0.0", "255.255.255.255", layers.IPProtocolUDP)
		add("udp4-dhcp-bcast", ser(tb, eth(macA, macBcast, layers.EthernetTypeIPv4), ip, udp(68, 67, ip), gopacket.Payload(make([]byte, 40))))
		ip = ip4("10.0.0.7", "224.0.0.251", layers.IPProtocolUDP)
		add("udp4-mdns", ser(tb, eth(macA, macMDNS4, layers.EthernetTypeIPv4), ip, udp(5353, 5353, ip), gopacket.Payload(make([]byte, 12))))
	}

	// IPv4 fragments of one UDP datagram 5000 -> 6000. The second one
	// carries bytes that look like ports 6000 -> 6000 where a transport
	// header would be: libpcap tests ports on the first fragment only.
	{
		ip := ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolUDP)
		ip.Flags, ip.Id = layers.IPv4MoreFragments, 77
		u := make([]byte, 8+16)
		binary.BigEndian.PutUint16(u[0:], 5000)
		binary.BigEndian.PutUint16(u[2:], 6000)
		binary.BigEndian.PutUint16(u[4:], 8+32)
		add("udp4-frag-first", ser(tb, eth(macA, macB, layers.EthernetTypeIPv4), ip, gopacket.Payload(u)))
		ip = ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolUDP)
		ip.FragOffset, ip.Id = 3, 77
		f := make([]byte, 16)
		binary.BigEndian.PutUint16(f[0:], 6000)
		binary.BigEndian.PutUint16(f[2:], 6000)
		add("udp4-frag-second", ser(tb, eth(macA, macB, layers.EthernetTypeIPv4), ip, gopacket.Payload(f)))
	}

	// ICMP, IGMP, SCTP, GRE over IPv4.
	{
		ip := ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolICMPv4)
		add("icmp4-echo", ser(tb, eth(macA, macB, layers.EthernetTypeIPv4), ip,
			&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 1, Seq: 1}, gopacket.Payload("ping")))
		ip = ip4("10.0.0.2", "10.0.0.1", layers.IPProtocolICMPv4)
		add("icmp4-reply", ser(tb, eth(macB, macA, layers.EthernetTypeIPv4), ip,
			&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(0, 0), Id: 1, Seq: 1}, gopacket.Payload("ping")))
		ip = ip4("10.0.0.254", "10.0.0.1", layers.IPProtocolICMPv4)
		add("icmp4-unreach", ser(tb, eth(macB, macA, layers.EthernetTypeIPv4), ip,
			&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(3, 3)}, gopacket.Payload(make([]byte, 28))))
		ip = ip4("10.0.0.1", "224.0.0.22", layers.IPProtocolIGMP)
		ip.TTL = 1
		add("igmp4-report", ser(tb, eth(macA, net.HardwareAddr{1, 0, 0x5e, 0, 0, 0x16}, layers.EthernetTypeIPv4), ip,
			gopacket.Payload([]byte{0x22, 0, 0xf9, 0x02, 0, 0, 0, 1, 4, 0, 0, 0, 239, 1, 1, 1})))
		ip = ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolSCTP)
		add("sctp4-init", ser(tb, eth(macA, macB, layers.EthernetTypeIPv4), ip, sctpHdr(36412, 38412)))
		ip = ip4("10.9.9.1", "10.9.9.2", layers.IPProtocolGRE)
		add("gre4", ser(tb, eth(macA, macB, layers.EthernetTypeIPv4), ip, gopacket.Payload([]byte{0, 0, 0x08, 0, 0x45, 0, 0, 20})))
	}

	// ARP request and reply, RARP.
	{
		arp := func(op uint16, smac net.HardwareAddr, sip string, tmac net.HardwareAddr, tip string) *layers.ARP {
			return &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
				HwAddressSize: 6, ProtAddressSize: 4, Operation: op,
				SourceHwAddress: smac, SourceProtAddress: net.ParseIP(sip).To4(),
				DstHwAddress: tmac, DstProtAddress: net.ParseIP(tip).To4()}
		}
		add("arp-request", ser(tb, eth(macA, macBcast, layers.EthernetTypeARP),
			arp(1, macA, "10.0.0.1", make(net.HardwareAddr, 6), "10.0.0.2")))
		add("arp-reply", ser(tb, eth(macB, macA, layers.EthernetTypeARP),
			arp(2, macB, "10.0.0.2", macA, "10.0.0.1")))
		r := ser(tb, eth(macA, macBcast, layers.EthernetTypeARP), arp(3, macA, "0.0.0.0", macA, "0.0.0.0"))
		binary.BigEndian.PutUint16(r[12:], 0x8035)
		copy(r[14+14:], net.ParseIP("10.0.0.77").To4())
		add("rarp-request", r)
	}

	// IPv6.
	{
		ip := ip6("2001:db8::1", "2001:db8::2", layers.IPProtocolTCP)
		add("tcp6-syn", ser(tb, eth(macA, macB, layers.EthernetTypeIPv6), ip, tcp(40000, 443, "S", ip)))
		ip = ip6("2001:db8::2", "2001:db8::1", layers.IPProtocolTCP)
		add("tcp6-http", ser(tb, eth(macB, macA, layers.EthernetTypeIPv6), ip, tcp(80, 40001, "PA", ip), pay))
		ip = ip6("fe80::1", "ff02::fb", layers.IPProtocolUDP)
		add("udp6-mdns", ser(tb, eth(macA, macMDNS6, layers.EthernetTypeIPv6), ip, udp(5353, 5353, ip), gopacket.Payload(make([]byte, 12))))
		ip = ip6("2001:db8:1::53", "2001:db8::1", layers.IPProtocolUDP)
		add("udp6-dns", ser(tb, eth(macB, macA, layers.EthernetTypeIPv6), ip, udp(53, 40002, ip), gopacket.Payload("\x12\x34\x81\x80")))
		ip = ip6("2001:db8::1", "2001:db8::2", layers.IPProtocolICMPv6)
		icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)}
		_ = icmp.SetNetworkLayerForChecksum(ip)
		add("icmp6-echo", ser(tb, eth(macA, macB, layers.EthernetTypeIPv6), ip, icmp, gopacket.Payload("\x00\x01\x00\x01ping")))
		ip = ip6("fe80::1", "ff02::1:ff00:2", layers.IPProtocolICMPv6)
		icmp = &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(135, 0)}
		_ = icmp.SetNetworkLayerForChecksum(ip)
		add("icmp6-ns", ser(tb, eth(macA, net.HardwareAddr{0x33, 0x33, 0xff, 0, 0, 2}, layers.EthernetTypeIPv6), ip, icmp,
			gopacket.Payload(append(make([]byte, 4), net.ParseIP("2001:db8::2")...))))
		ip = ip6("2001:db8::1", "2001:db8::2", layers.IPProtocolSCTP)
		add("sctp6", ser(tb, eth(macA, macB, layers.EthernetTypeIPv6), ip, sctpHdr(2905, 2905)))

		// A fragment header before TCP (port 80): "tcp" and "ip6 proto 6"
		// see it; "port 80" does not, as in libpcap.
		t := ser(tb, tcp(50000, 80, "S", ip6("2001:db8::1", "2001:db8::2", layers.IPProtocolTCP)))
		frag := append([]byte{6, 0, 0, 1, 0, 0, 0, 9}, t...)
		ip = ip6("2001:db8::1", "2001:db8::2", layers.IPProtocolIPv6Fragment)
		add("tcp6-fraghdr", ser(tb, eth(macA, macB, layers.EthernetTypeIPv6), ip, gopacket.Payload(frag)))
		// Hop-by-hop options before UDP: libpcap's "udp" does not see it.
		u := ser(tb, udp(546, 547, ip6("fe80::1", "ff02::1:2", layers.IPProtocolUDP)), gopacket.Payload(make([]byte, 8)))
		hbh := append([]byte{17, 0, 5, 2, 0, 0, 1, 0}, u...)
		ip = ip6("fe80::1", "ff02::1:2", layers.IPProtocolIPv6HopByHop)
		add("udp6-hopbyhop", ser(tb, eth(macA, net.HardwareAddr{0x33, 0x33, 0, 1, 0, 2}, layers.EthernetTypeIPv6), ip, gopacket.Payload(hbh)))
		ip = ip6("::1", "::1", layers.IPProtocolESP)
		add("esp6", ser(tb, eth(macA, macB, layers.EthernetTypeIPv6), ip, gopacket.Payload(make([]byte, 24))))
	}

	// 802.1Q and QinQ tags.
	{
		ip := ip4("10.10.0.1", "10.10.0.2", layers.IPProtocolTCP)
		add("vlan10-tcp4", ser(tb, eth(macA, macB, layers.EthernetTypeDot1Q),
			&layers.Dot1Q{VLANIdentifier: 10, Type: layers.EthernetTypeIPv4}, ip, tcp(34000, 80, "S", ip)))
		ip6l := ip6("2001:db8:20::1", "2001:db8:20::2", layers.IPProtocolUDP)
		add("vlan20-udp6", ser(tb, eth(macB, macA, layers.EthernetTypeDot1Q),
			&layers.Dot1Q{VLANIdentifier: 20, Priority: 5, Type: layers.EthernetTypeIPv6}, ip6l, udp(53, 41000, ip6l), gopacket.Payload("x")))
		ip = ip4("10.20.0.1", "10.20.0.2", layers.IPProtocolICMPv4)
		add("qinq-100-200-icmp4", ser(tb, eth(macA, macB, layers.EthernetTypeQinQ),
			&layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeDot1Q},
			&layers.Dot1Q{VLANIdentifier: 200, Type: layers.EthernetTypeIPv4}, ip,
			&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0)}))
		add("vlan30-arp", ser(tb, eth(macA, macBcast, layers.EthernetTypeDot1Q),
			&layers.Dot1Q{VLANIdentifier: 30, Type: layers.EthernetTypeARP},
			&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
				HwAddressSize: 6, ProtAddressSize: 4, Operation: 1,
				SourceHwAddress: macA, SourceProtAddress: net.ParseIP("10.30.0.1").To4(),
				DstHwAddress: make(net.HardwareAddr, 6), DstProtAddress: net.ParseIP("10.30.0.2").To4()}))
	}

	// 802.3 with LLC: a spanning-tree BPDU; and an LLDP frame.
	{
		bpdu := []byte{0x42, 0x42, 0x03, 0, 0, 0, 0, 0, 0x80, 0, 0, 0x11, 0x22, 0x33, 0x44, 0x55,
			0, 0, 0, 0, 0x80, 0, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x80, 0x01, 0, 0, 0x14, 0, 2, 0, 0x0f, 0}
		f := ser(tb, &layers.Ethernet{SrcMAC: macA, DstMAC: macSTP, EthernetType: layers.EthernetTypeLLC, Length: uint16(len(bpdu))}, gopacket.Payload(bpdu))
		binary.BigEndian.PutUint16(f[12:], uint16(len(bpdu)))
		add("stp-bpdu", f)
		add("lldp", ser(tb, eth(macA, net.HardwareAddr{0x01, 0x80, 0xc2, 0, 0, 0x0e}, layers.EthernetType(0x88cc)),
			gopacket.Payload([]byte{0x02, 0x07, 0x04, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 0, 0})))
	}

	// Truncated captures of a TCP segment to 10.0.0.2:80.
	{
		ip := ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolTCP)
		full := ser(tb, eth(macA, macB, layers.EthernetTypeIPv4), ip, tcp(34568, 80, "PA", ip), pay)
		for _, n := range []int{36, 40, 47, 12} {
			ps = append(ps, testPacket{name: "tcp4-trunc" + itoa(n), data: full[:n], wireLen: len(full)})
		}
	}
	return ps
}

func itoa(n int) string {
	const d = "0123456789"
	if n < 10 {
		return d[n : n+1]
	}
	return itoa(n/10) + d[n%10:n%10+1]
}

// convert turns an Ethernet frame into a frame of link type lt, or
// reports that the packet has no such form (for example ARP as raw IP).
// VLAN tags are dropped, as Linux does before cooked captures see them.
func convert(p testPacket, lt LinkType, i int) (testPacket, bool) {
	d := p.data
	if lt == LinkTypeEthernet {
		return p, true
	}
	if len(d) < 14 {
		return p, false
	}
	etype := binary.BigEndian.Uint16(d[12:])
	off := 14
	for (etype == 0x8100 || etype == 0x88a8 || etype == 0x9100) && len(d) >= off+4 {
		etype = binary.BigEndian.Uint16(d[off+2:])
		off += 4
	}
	payload := d[off:]
	lost := len(d) - len(payload)
	if etype <= 1500 {
		etype = 0x0004 // Linux cooked: 802.2 LLC follows
	}
	mk := func(hdr []byte, body []byte) (testPacket, bool) {
		out := append(append([]byte(nil), hdr...), body...)
		return testPacket{name: p.name, data: out, wireLen: p.wireLen - lost + len(hdr)}, true
	}
	switch lt {
	case LinkTypeLinuxSLL2:
		h := make([]byte, 20)
		binary.BigEndian.PutUint16(h[0:], etype)
		binary.BigEndian.PutUint32(h[4:], uint32(2+i%3))
		binary.BigEndian.PutUint16(h[8:], 1)
		h[10] = byte([]int{0, 4, 1, 2, 3}[i%5])
		h[11] = 6
		copy(h[12:], d[6:12])
		return mk(h, payload)
	case LinkTypeLinuxSLL:
		h := make([]byte, 16)
		binary.BigEndian.PutUint16(h[0:], uint16([]int{0, 4, 1, 2, 3}[i%5]))
		binary.BigEndian.PutUint16(h[2:], 1)
		binary.BigEndian.PutUint16(h[4:], 6)
		copy(h[6:], d[6:12])
		binary.BigEndian.PutUint16(h[14:], etype)
		return mk(h, payload)
	}
	if etype != 0x0800 && etype != 0x86dd {
		return p, false
	}
	switch lt {
	case LinkTypeRaw:
		return mk(nil, payload)
	case LinkTypeIPv4:
		if etype != 0x0800 {
			return p, false
		}
		return mk(nil, payload)
	case LinkTypeIPv6:
		if etype != 0x86dd {
			return p, false
		}
		return mk(nil, payload)
	case LinkTypeNull, LinkTypeLoop:
		af := uint32(2)
		if etype == 0x86dd {
			af = []uint32{24, 28, 30, 10}[i%4]
		}
		h := make([]byte, 4)
		if lt == LinkTypeNull {
			binary.LittleEndian.PutUint32(h, af)
		} else {
			binary.BigEndian.PutUint32(h, af)
		}
		return mk(h, payload)
	}
	return p, false
}

var allLinkTypes = []LinkType{LinkTypeEthernet, LinkTypeLinuxSLL2, LinkTypeLinuxSLL, LinkTypeRaw,
	LinkTypeNull, LinkTypeLoop, LinkTypeIPv4, LinkTypeIPv6}

// corpusFor returns the corpus as packets of link type lt.
func corpusFor(tb testing.TB, lt LinkType) []testPacket {
	var out []testPacket
	for i, p := range corpus(tb) {
		if q, ok := convert(p, lt, i); ok {
			out = append(out, q)
		}
	}
	return out
}

// writePcap writes packets to a pcap file whose packet i has the
// timestamp i microseconds, so that tcpdump's output identifies them.
func writePcap(tb testing.TB, dir string, lt LinkType, ps []testPacket) string {
	tb.Helper()
	path := filepath.Join(dir, "lt"+itoa(int(lt))+".pcap")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(262144, layers.LinkType(lt)); err != nil {
		tb.Fatal(err)
	}
	for i, p := range ps {
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(1700000000, int64(i)*1000), CaptureLength: len(p.data), Length: p.wireLen}
		if err := w.WritePacket(ci, p.data); err != nil {
			tb.Fatal(err)
		}
	}
	return path
}
