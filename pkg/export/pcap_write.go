package export

import (
	"bufio"
	"fmt"
	"io"

	"github.com/gopacket/gopacket/layers"
)

// PcapWriter writes classic pcap with nanosecond timestamps (magic 0xa1b23c4d). A pcap
// file holds one link type, no interface names, comments, name resolution or
// statistics: use pcapng (PcapNGWriter) unless a tool needs pcap. Output is buffered;
// call Flush. A PcapWriter is not safe for concurrent use.
type PcapWriter struct {
	w        *bufio.Writer
	linkType layers.LinkType
	snaplen  int
	ifaces   []Interface
	sum      Summary
	hdr      [16]byte
	err      error
}

// DefaultSnapLen is the snapshot length written to a pcap header when none is given
// (libpcap's and tcpdump's default).
const DefaultSnapLen = 262144

// NewPcapWriter writes a pcap file header for linkType to w (buffered). A snaplen of 0
// means DefaultSnapLen.
func NewPcapWriter(w io.Writer, linkType layers.LinkType, snaplen int) (*PcapWriter, error) {
	if snaplen == 0 {
		snaplen = DefaultSnapLen
	}
	if snaplen < 0 || uint64(snaplen) > 0xffffffff {
		return nil, fmt.Errorf("creating pcap writer: invalid snapshot length %d", snaplen)
	}
	pw := &PcapWriter{w: bufio.NewWriterSize(w, 64<<10), linkType: linkType, snaplen: snaplen}
	var h [pcapHeaderLen]byte
	le.PutUint32(h[0:], pcapMagicNano)
	le.PutUint16(h[4:], 2)
	le.PutUint16(h[6:], 4)
	le.PutUint32(h[16:], uint32(snaplen))
	le.PutUint32(h[20:], uint32(linkType))
	if err := pw.write(h[:]); err != nil {
		return nil, err
	}
	return pw, nil
}

func (w *PcapWriter) write(b []byte) error {
	if w.err != nil {
		return w.err
	}
	if _, err := w.w.Write(b); err != nil {
		w.err = fmt.Errorf("writing pcap: %w", err)
	}
	return w.err
}

// AddInterface accepts interfaces of the file's link type only, so that several capture
// interfaces can share one pcap file; their names are lost. Packet.Interface must then
// index the added interfaces.
func (w *PcapWriter) AddInterface(iface Interface) (int, error) {
	if iface.LinkType != w.linkType {
		return 0, fmt.Errorf("adding interface %d (%q) to a pcap file: its link type is %s but the file's is %s, and a pcap file holds one link type (write pcapng instead)",
			len(w.ifaces), iface.Name, iface.LinkType, w.linkType)
	}
	w.ifaces = append(w.ifaces, iface)
	return len(w.ifaces) - 1, nil
}

// WritePacket writes one packet record. Data longer than the snapshot length is cut to
// it; Flags and Comment are dropped (pcap cannot hold them).
func (w *PcapWriter) WritePacket(p Packet) error {
	if len(w.ifaces) > 0 && (p.Interface < 0 || p.Interface >= len(w.ifaces)) {
		return fmt.Errorf("writing packet: interface %d was not added (the writer has %d)", p.Interface, len(w.ifaces))
	}
	ns, ok := nsTicks(p.Timestamp)
	if !ok || ns/1e9 > 0xffffffff {
		return fmt.Errorf("writing packet: timestamp %s does not fit a pcap file (1970..2106)", p.Timestamp.UTC())
	}
	data := p.Data
	if len(data) > w.snaplen {
		data = data[:w.snaplen]
	}
	wirelen := max(p.Length, len(p.Data))
	if uint64(wirelen) > 0xffffffff {
		wirelen = 0xffffffff
	}
	le.PutUint32(w.hdr[0:], uint32(ns/1e9))
	le.PutUint32(w.hdr[4:], uint32(ns%1e9))
	le.PutUint32(w.hdr[8:], uint32(len(data)))
	le.PutUint32(w.hdr[12:], uint32(wirelen))
	w.write(w.hdr[:])
	if err := w.write(data); err != nil {
		return err
	}
	w.sum.add(p.Timestamp, len(data))
	return nil
}

// Flush writes everything buffered to the underlying writer.
func (w *PcapWriter) Flush() error {
	if w.err != nil {
		return w.err
	}
	if err := w.w.Flush(); err != nil {
		w.err = fmt.Errorf("writing pcap: %w", err)
	}
	return w.err
}

// Summary describes the packets written so far.
func (w *PcapWriter) Summary() Summary { return w.sum }
