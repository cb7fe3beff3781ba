package dissect

import "time"

// Verdict is a dissector's answer to "is this stream yours?".
type Verdict uint8

const (
	NoMatch  Verdict = iota // definitely not this protocol
	NeedMore                // undecided: call again with more bytes
	Match                   // this protocol
)

// Emit hands a finished entry to the pipeline. The parser sets Protocol, its payload
// (HTTP, DNS, Redis or TLS), Timestamp, Elapsed, Interface (of the request's first packet)
// and error fields; client says which side of the stream sent the request. The
// pipeline fills the rest (IDs, stream, endpoints, capture source) and owns the entry
// afterwards.
type Emit func(e *Entry, client Side)

// Chunk is in-order data of one side of a stream.
type Chunk struct {
	Side Side
	// Data is valid only during the call; parsers copy what they keep.
	Data []byte
	// Skipped is the number of bytes lost just before Data (a capture gap); parsers
	// must resynchronise when it is not zero. -1 means an unknown amount.
	Skipped int
	// Time returns the capture time of the packet that carried Data[offset].
	Time func(offset int) time.Time
	// Interface is the capture interface of the first packet of Data.
	Interface int
}

// StreamParser parses one TCP connection of one protocol. Implementations need not be
// safe for concurrent use: the pipeline calls them from one goroutine.
type StreamParser interface {
	// Feed consumes in-order data of one side. Both sides are fed interleaved in
	// capture order.
	Feed(c Chunk)
	// Close emits whatever is pending (for example a request without a response) at
	// the end of the stream or of the input; t is the time of the last packet.
	Close(t time.Time)
}

// TCPDissector recognises and parses one protocol over TCP. It must be safe for
// concurrent use (it is shared by pipelines); parsers it creates need not be.
type TCPDissector interface {
	Protocol() string
	// Probe looks at the first bytes sent by side (data may be a prefix of what will
	// come). ports are the ports of SideA and SideB.
	Probe(side Side, data []byte, ports [2]uint16) Verdict
	NewParser(emit Emit) StreamParser
}

// DatagramParser parses the datagrams of one UDP flow.
type DatagramParser interface {
	// Datagram consumes one datagram's payload (valid only during the call).
	Datagram(side Side, payload []byte, t time.Time, iface int)
	// Close emits whatever is pending at the end of the flow or the input.
	Close(t time.Time)
}

// UDPDissector recognises and parses one protocol over UDP. Safe for concurrent use.
type UDPDissector interface {
	Protocol() string
	// Probe reports whether the first datagram of a flow, sent by side, is this
	// protocol. ports are the ports of SideA and SideB.
	Probe(side Side, payload []byte, ports [2]uint16) bool
	NewParser(emit Emit) DatagramParser
}
