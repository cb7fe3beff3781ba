package export

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// MaxBlockSize bounds every record and block the reader accepts (and so every allocation
// a file can cause). Real captures never come close: the largest snapshot length any
// capture tool uses is 256 KiB.
const MaxBlockSize = 256 << 20

// Format is the container format of a capture file.
type Format uint8

const (
	FormatPcap   Format = iota + 1 // classic libpcap format
	FormatPcapNG                   // pcap next generation
)

func (f Format) String() string {
	switch f {
	case FormatPcap:
		return "pcap"
	case FormatPcapNG:
		return "pcapng"
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

// Packet flag bits (pcapng epb_flags). The low two bits carry the direction.
const (
	FlagInbound  uint32 = 1
	FlagOutbound uint32 = 2
)

// Packet is one captured packet.
type Packet struct {
	// Timestamp is when the packet was captured. It is the zero time for a pcapng Simple
	// Packet Block, which carries no timestamp.
	Timestamp time.Time
	// Interface indexes the Interfaces of the source. A Reader numbers interfaces of all
	// pcapng sections consecutively, so the index is stable for the whole file.
	Interface int
	// CaptureLength is len(Data); Length is the packet's length on the wire.
	CaptureLength int
	Length        int
	// Data holds the captured bytes, starting with the link-layer header. For packets
	// returned by a Reader or Merger it is valid only until the next call to Next.
	Data []byte
	// Flags are the pcapng epb_flags (0 when unknown); see FlagInbound, FlagOutbound.
	Flags uint32
	// Comment is the packet's first opt_comment, if any.
	Comment string
}

// Inbound and Outbound report the packet's direction from its flags.
func (p *Packet) Inbound() bool  { return p.Flags&3 == FlagInbound }
func (p *Packet) Outbound() bool { return p.Flags&3 == FlagOutbound }

// TsResolution is a pcapng if_tsresol value: with the high bit clear a timestamp tick
// is 10^-n seconds, with it set 2^-n seconds (n being the low seven bits).
type TsResolution uint8

const (
	TsMicroseconds TsResolution = 6 // the pcapng default and classic pcap
	TsNanoseconds  TsResolution = 9 // nanosecond pcap; what the writers use
)

func (r TsResolution) String() string {
	switch r {
	case 0:
		return "1s"
	case 3:
		return "1ms"
	case TsMicroseconds:
		return "1µs"
	case TsNanoseconds:
		return "1ns"
	}
	if r&0x80 != 0 {
		return "2^-" + strconv.Itoa(int(r&0x7f)) + "s"
	}
	return "10^-" + strconv.Itoa(int(r)) + "s"
}

// Interface describes one capture interface: a pcapng Interface Description Block, or the
// single implicit interface of a classic pcap file.
type Interface struct {
	LinkType layers.LinkType
	// Name and Description are if_name and if_description. kubectl-shark exports use one
	// interface per target container and put namespace/pod/container in Name and the node
	// in Description.
	Name, Description string
	// SnapLen is the maximum number of bytes captured per packet; 0 means no limit.
	SnapLen int
	// TsResolution is the timestamp unit of the file the interface was read from. Writers
	// ignore it and always write nanoseconds.
	TsResolution TsResolution
	// Filter is the capture filter (if_filter, libpcap syntax), if known.
	Filter string
	// OS and Hardware are if_os and if_hardware.
	OS, Hardware string
}

// NameRecord is one entry of a pcapng Name Resolution Block: an address and its names,
// the preferred one first. In the file the order is reversed, because Wireshark shows
// the last name given for an address.
type NameRecord struct {
	Addr  netip.Addr
	Names []string
}

// Counter is an optional statistics counter: Valid is false when the file did not carry it.
type Counter struct {
	Value uint64
	Valid bool
}

// Count returns a valid Counter holding v.
func Count(v uint64) Counter { return Counter{Value: v, Valid: true} }

// InterfaceStats is a pcapng Interface Statistics Block.
type InterfaceStats struct {
	Interface int
	// Timestamp is when the counters were read.
	Timestamp time.Time
	// Start and End are isb_starttime and isb_endtime; zero when absent.
	Start, End time.Time
	// Received is isb_ifrecv, Dropped isb_ifdrop (packets the interface or the kernel
	// capture ring dropped for lack of resources), FilterAccepted isb_filteraccept,
	// OSDropped isb_osdrop and Delivered isb_usrdeliv.
	Received, Dropped, FilterAccepted, OSDropped, Delivered Counter
	Comment                                                 string
}

// ErrUnknownFormat is wrapped by the error Open returns for input that is neither pcap
// nor pcapng; the error text says what the input looks like instead.
var ErrUnknownFormat = errors.New("not a pcap or pcapng file")

// FormatError reports malformed or truncated capture data. Offset is the byte offset of
// the record or block at fault (in the decompressed stream, for gzip input). A Reader
// returns every packet before the damage and then the FormatError, which wraps
// io.ErrUnexpectedEOF when the data simply ends early (a file still being written, or cut
// off).
type FormatError struct {
	Offset int64
	// Msg says what is wrong ("truncated packet record"); Detail, if set, adds numbers
	// ("need 1514 bytes, have 200").
	Msg, Detail string
	Err         error
}

func (e *FormatError) Error() string {
	s := e.Msg + " at offset " + strconv.FormatInt(e.Offset, 10)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (e *FormatError) Unwrap() error { return e.Err }

func formatErr(off int64, msg, format string, args ...any) *FormatError {
	return &FormatError{Offset: off, Msg: msg, Detail: fmt.Sprintf(format, args...)}
}
