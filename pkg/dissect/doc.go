// Package dissect owns the packet → stream → entry pipeline of kubectl-shark: link and
// network layer decoding, TCP reassembly and UDP flow tracking, protocol detection, and
// the entry model that KFL filters and the CLI prints.
//
// Protocol parsers live in subpackages (http, dns, redis, tls) and plug in through the
// TCPDissector and UDPDissector interfaces; package protocols lists the default set.
// This package never does I/O, never logs and never imports Kubernetes code: callers
// feed it packets and receive entries through a callback.
//
// Memory is bounded: reassembly buffers at most Config.MaxBufferedPages pages of
// out-of-order data (and none for streams no dissector wants), streams idle for longer
// than the configured timeouts (in packet time) are closed, and at most
// Config.MaxStreams streams are tracked at once (the least recently active one is
// closed first).
//
// The hot path allocates nothing per packet: in-order TCP data is handed to the
// dissector straight from the frame, and only segments that arrive after a gap are
// copied.
package dissect
