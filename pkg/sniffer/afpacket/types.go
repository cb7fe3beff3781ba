package afpacket

import (
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// LinkType is a pcap/pcapng link-layer header type (tcpdump.org LINKTYPE_
// values), the same numbering as gopacket's layers.LinkType.
type LinkType uint16

// Link types produced by this package.
const (
	LinkTypeEthernet  LinkType = 1   // LINKTYPE_ETHERNET
	LinkTypeRaw       LinkType = 101 // LINKTYPE_RAW: packet starts at the IPv4/IPv6 header
	LinkTypeLinuxSLL2 LinkType = 276 // LINKTYPE_LINUX_SLL2: 20-byte Linux cooked header
)

const (
	sll2HeaderLen      = 20
	ethHeaderLen       = 14
	vlanTagLen         = 4
	defaultKernelSlack = 128 // room for a link header above the snap length
)

func (t LinkType) String() string {
	switch t {
	case LinkTypeEthernet:
		return "EN10MB"
	case LinkTypeRaw:
		return "RAW"
	case LinkTypeLinuxSLL2:
		return "LINUX_SLL2"
	}
	return "LINKTYPE_" + strconv.Itoa(int(t))
}

// Direction is the kernel's packet type (sll_pkttype) of a captured packet.
type Direction uint8

// Directions.
const (
	DirectionHost      Direction = unix.PACKET_HOST      // addressed to this host
	DirectionBroadcast Direction = unix.PACKET_BROADCAST // link-layer broadcast
	DirectionMulticast Direction = unix.PACKET_MULTICAST // link-layer multicast
	DirectionOtherHost Direction = unix.PACKET_OTHERHOST // to another host, seen in promiscuous mode
	DirectionOutgoing  Direction = unix.PACKET_OUTGOING  // sent by this host
)

// Inbound reports whether the packet was received rather than sent.
func (d Direction) Inbound() bool { return d != DirectionOutgoing }

func (d Direction) String() string {
	switch d {
	case DirectionHost:
		return "host"
	case DirectionBroadcast:
		return "broadcast"
	case DirectionMulticast:
		return "multicast"
	case DirectionOtherHost:
		return "otherhost"
	case DirectionOutgoing:
		return "outgoing"
	}
	return "pkttype(" + strconv.Itoa(int(d)) + ")"
}

// Packet is one captured packet. Data is only valid until the next call to
// Next or Close on the Handle that returned it.
type Packet struct {
	// Timestamp is the kernel's receive (or transmit) time, in nanoseconds.
	Timestamp time.Time
	// Ifindex is the index of the interface in the target namespace.
	Ifindex int
	// LinkType says how Data starts.
	LinkType LinkType
	// Direction is the packet type: incoming, outgoing, broadcast, …
	Direction Direction
	// Protocol is the EtherType of the network layer (sll_protocol).
	Protocol uint16
	// CaptureLength is len(Data): the bytes kept after the snap length.
	CaptureLength int
	// Length is the packet's length on the wire (in the same framing as Data).
	Length int
	// Data is the packet from its link-layer header on, borrowed from the Handle.
	Data []byte
}

// Interface is a network interface of the target namespace.
type Interface struct {
	Index int
	Name  string
	// LinkType is the link type of the packets captured on the interface.
	LinkType LinkType
	// HardwareType is the ARPHRD_ type of the device.
	HardwareType uint16
	MTU          int
}

// Stats are a Handle's counters since Open. Packets and KernelDrops come from
// the kernel's PACKET_STATISTICS (which reset on each read and are accumulated
// here); the others are counted by the Handle.
type Stats struct {
	// Packets is the number of packets that passed the filter, including the
	// dropped ones (tp_packets).
	Packets uint64
	// KernelDrops is the number of packets dropped because the ring was full
	// (tp_drops).
	KernelDrops uint64
	// FreezeQueue is the number of times the ring was found full and frozen
	// (tp_freeze_q_cnt).
	FreezeQueue uint64
	// Delivered is the number of packets returned by Next.
	Delivered uint64
	// Skipped is the number of packets read from the ring but not returned
	// because they cannot be written in their interface's link type (a non-IP
	// packet on a raw-IP device) or were malformed.
	Skipped uint64
}

// linkTypeOf maps an ARPHRD_ device type to the link type captured on it.
func linkTypeOf(hatype uint16, cooked bool) LinkType {
	if cooked {
		return LinkTypeLinuxSLL2
	}
	switch hatype {
	case unix.ARPHRD_ETHER, unix.ARPHRD_LOOPBACK:
		return LinkTypeEthernet
	case unix.ARPHRD_NONE, unix.ARPHRD_TUNNEL, unix.ARPHRD_TUNNEL6, unix.ARPHRD_SIT, unix.ARPHRD_RAWIP:
		return LinkTypeRaw
	}
	return LinkTypeLinuxSLL2
}
