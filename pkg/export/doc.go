// Package export owns kubectl-shark's capture-file formats. It reads classic pcap
// (either byte order, microsecond and nanosecond magic, and the Kuznetzov "modified"
// variant) and pcapng (any number of sections and interfaces, each with its own link
// type and timestamp resolution; enhanced, simple and obsolete packet blocks; name
// resolution and interface statistics blocks; unknown blocks are skipped), optionally
// gzip-compressed. It writes pcapng (one Interface Description Block per capture
// interface, Enhanced Packet Blocks, Name Resolution Blocks and Interface Statistics
// Blocks) and classic nanosecond pcap, and merges several packet sources into one stream
// in timestamp order.
//
// The reader is written here rather than taken from gopacket/pcapgo because exports and
// the node-local FIFO need what pcapgo does not give: the byte offset of every format
// error (so a truncated segment still yields every packet before the damage), a stable
// interface numbering across pcapng sections, obsolete packet blocks, and the contents of
// name resolution and statistics blocks. Every length read from a file is bounds-checked
// and a block may not exceed MaxBlockSize, so a corrupt length never allocates gigabytes.
//
// Buffers: Packet.Data returned by a Reader or Merger is owned by the reader and valid
// only until the next call to Next. Writers copy what they are given. No type in this
// package is safe for concurrent use.
//
// This package never imports Kubernetes code: callers put pod, namespace and node names
// into Interface.Name and Interface.Description.
package export
