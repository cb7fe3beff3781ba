// Package dissect owns the packet → stream → entry pipeline of kubectl-shark: link and
// network layer decoding, TCP reassembly (gopacket's reassembly package) and UDP flow
// tracking, protocol detection, and the entry model that KFL filters and the CLI prints.
//
// Protocol parsers live in subpackages (http, dns, redis) and plug in through the
// TCPDissector and UDPDissector interfaces; package protocols lists the default set.
// This package never does I/O, never logs and never imports Kubernetes code: callers
// feed it packets and receive entries through a callback.
//
// Memory is bounded: reassembly buffers at most Config.MaxBufferedPages pages of
// out-of-order data, streams idle for longer than the configured timeouts (in packet
// time) are closed, and at most Config.MaxStreams streams are tracked at once (the
// least recently active one is closed first).
package dissect
