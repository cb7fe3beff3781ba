package offline

import (
	"fmt"
	"io"

	"github.com/kubectl-shark/kubectl-shark/pkg/export"
)

// packetWriter copies packets of an input file to an export.Writer, declaring each
// input interface in the output the first time one of its packets is written (pcapng
// keeps the input's interfaces; pcap needs them all to share one link type).
type packetWriter struct {
	w      export.Writer
	ifaces map[int]int // input interface index -> output index
}

func newPacketWriter(opts ExportOptions, w io.Writer, ifaces []export.Interface) (*packetWriter, error) {
	pw := &packetWriter{ifaces: map[int]int{}}
	switch opts.Format {
	case PCAP:
		lt := export.Interface{}.LinkType
		snap := 0
		for i, ifc := range ifaces {
			if i == 0 {
				lt = ifc.LinkType
			}
			if ifc.SnapLen > snap {
				snap = ifc.SnapLen
			}
		}
		if len(ifaces) == 0 {
			lt = 1 // Ethernet, for an empty file
		}
		pcap, err := export.NewPcapWriter(w, lt, snap)
		if err != nil {
			return nil, err
		}
		pw.w = pcap
	default:
		app := "kubectl-shark"
		if opts.Version != "" {
			app += " " + opts.Version
		}
		ng, err := export.NewPcapNGWriter(w, export.PcapNGOptions{Application: app})
		if err != nil {
			return nil, err
		}
		pw.w = ng
		// Declare every input interface up front, in input order, so interface
		// numbers (and names) stay as the input had them.
		for i, ifc := range ifaces {
			if _, err := pw.iface(i, ifc); err != nil {
				return nil, err
			}
		}
	}
	return pw, nil
}

func (pw *packetWriter) iface(in int, ifc export.Interface) (int, error) {
	if out, ok := pw.ifaces[in]; ok {
		return out, nil
	}
	out, err := pw.w.AddInterface(ifc)
	if err != nil {
		return 0, err
	}
	pw.ifaces[in] = out
	return out, nil
}

func (pw *packetWriter) write(p export.Packet, ifaces []export.Interface) error {
	out, err := pw.iface(p.Interface, ifaces[p.Interface])
	if err != nil {
		return fmt.Errorf("exporting packet to %s: %w", "output", err)
	}
	p.Interface = out
	return pw.w.WritePacket(p)
}

func (pw *packetWriter) flush() error { return pw.w.Flush() }
