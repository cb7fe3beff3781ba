package sniffer

import (
	"github.com/gopacket/gopacket/layers"

	"github.com/kubectl-shark/kubectl-shark/pkg/capfilter"
	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/ebpfcap"
)

// openEBPF attaches the TC capture programs in the target's namespace. The tcpdump
// filter is compiled for Ethernet framing, as for the packet socket.
func (a *Agent) openEBPF(filter string) (source, error) {
	var f *capfilter.Filter
	if filter != "" {
		var err error
		if f, err = capfilter.Compile(filter, layers.LinkTypeEthernet, a.cfg.SnapLen); err != nil {
			return nil, err
		}
	}
	h, err := ebpfcap.Open(a.tgt.Netns, ebpfcap.Config{Interfaces: a.cfg.Interfaces, SnapLen: a.cfg.SnapLen,
		RingSize: int(a.cfg.RingSize), Filter: f})
	if err != nil {
		return nil, err
	}
	a.log.Info("eBPF capture programs attached", "mode", h.Mode(), "kernel_filter", h.KernelFilter())
	return h, nil
}
