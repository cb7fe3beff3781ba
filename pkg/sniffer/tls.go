package sniffer

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gopacket/gopacket/layers"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
	"github.com/kubectl-shark/kubectl-shark/pkg/export"
	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/tlsprobe"
	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/wire"
)

// TLSStatus is the --tls part of /status.
type TLSStatus struct {
	// Libraries are the libssl files probed ("PATH (SYMBOLS)"); empty when none
	// could be attached, with Error saying why.
	Libraries []string `json:"libraries"`
	// Skipped are libssl files found but not attached, with the reason.
	Skipped []string `json:"skipped,omitempty"`
	Error   string   `json:"error,omitempty"`
	// Counters of the probe (pkg/sniffer/tlsprobe.Stats).
	Events       uint64 `json:"events"`
	Lost         uint64 `json:"lost"`
	Bytes        uint64 `json:"bytes"`
	Packets      uint64 `json:"packets"`
	UnknownTuple uint64 `json:"unknownTuple"`
}

// startTLS attaches the OpenSSL uprobes and starts feeding their plaintext into the
// TLS pipeline. A failure is reported in the status and the log but does not stop
// the packet capture. Called with a.mu held.
func (a *Agent) startTLS() {
	p, err := tlsprobe.Open(tlsprobe.Config{Netns: a.tgt.Netns, PID: a.tgt.PID, ProcRoot: a.cfg.Target.ProcRoot,
		TLSLibs: a.cfg.TLSLibs})
	a.tlsLibs, a.tlsSkipped = nil, nil
	if err != nil {
		a.tlsErr = err.Error()
		a.log.Error("TLS plaintext recovery is off: attaching the OpenSSL uprobes failed", "error", err)
		return
	}
	a.tlsErr = ""
	for _, l := range p.Libraries() {
		if l.Err != nil {
			a.tlsSkipped = append(a.tlsSkipped, fmt.Sprintf("%s: %v", l.Path, l.Err))
			continue
		}
		a.tlsLibs = append(a.tlsLibs, fmt.Sprintf("%s (%s, %s)", l.Path, l.Source, strings.Join(l.Symbols, ",")))
	}
	a.log.Info("TLS plaintext recovery on", "libraries", a.tlsLibs, "skipped", a.tlsSkipped, "attachment", p.Attachment())
	ctx, cancel := context.WithCancel(context.Background())
	a.tls, a.tlsStop, a.tlsDone = p, cancel, make(chan struct{})
	go a.captureTLS(ctx, p, a.tlsDone)
}

// stopTLS detaches the probes. Called without a.mu held.
func (a *Agent) stopTLS() {
	a.mu.Lock()
	p, cancel, done := a.tls, a.tlsStop, a.tlsDone
	a.mu.Unlock()
	if p == nil {
		return
	}
	cancel()
	<-done
	st := p.Stats()
	a.mu.Lock()
	a.prevTLS = addTLSStats(a.prevTLS, st)
	a.tls = nil
	a.mu.Unlock()
	if err := p.Close(); err != nil {
		a.log.Warn("detaching the OpenSSL uprobes", "error", err)
	}
}

func addTLSStats(a, b tlsprobe.Stats) tlsprobe.Stats {
	a.Events += b.Events
	a.Lost += b.Lost
	a.Bytes += b.Bytes
	a.Packets += b.Packets
	a.UnknownTuple += b.UnknownTuple
	return a
}

// captureTLS writes the probe's reconstructed plaintext packets into the FIFO, on
// their own interface, and dissects them in the TLS pipeline.
func (a *Agent) captureTLS(ctx context.Context, p *tlsprobe.Probe, done chan struct{}) {
	defer close(done)
	var dp dissect.Packet
	for {
		pkt, err := p.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, tlsprobe.ErrClosed) {
				return
			}
			a.mu.Lock()
			a.tlsErr = "reading TLS events: " + err.Error()
			a.mu.Unlock()
			a.log.Error("reading TLS events", "error", err)
			return
		}
		a.mu.Lock()
		idx, err := a.tlsInterface()
		if err != nil {
			a.lastErr = err.Error()
			a.mu.Unlock()
			continue
		}
		a.countPacket(idx)
		dp = dissect.Packet{Timestamp: pkt.Timestamp, LinkType: layers.LinkTypeRaw, Interface: idx, Data: pkt.Data, Length: pkt.Length}
		a.store(a.tlsPipeline, &dp, pkt.Outbound)
		a.mu.Unlock()
	}
}

// tlsInterface declares the FIFO interface of reconstructed plaintext on first use.
// Called with a.mu held.
func (a *Agent) tlsInterface() (int, error) {
	if a.tlsIface >= 0 {
		return a.tlsIface, nil
	}
	desc := wire.TLSInterfaceDescription + "; " + a.tgt.Description
	if a.cfg.Node != "" {
		desc += " on node " + a.cfg.Node
	}
	idx, err := a.fifo.AddInterface(export.Interface{LinkType: layers.LinkTypeRaw, Name: wire.TLSInterfaceName,
		Description: desc, SnapLen: 262144, OS: "Linux"})
	if err != nil {
		return 0, err
	}
	a.tlsIface = idx
	return idx, nil
}

// tlsStatus reports the probe. Called with a.mu held.
func (a *Agent) tlsStatus() *TLSStatus {
	if !a.cfg.TLS {
		return nil
	}
	st := a.prevTLS
	if a.tls != nil {
		st = addTLSStats(st, a.tls.Stats())
	}
	libs := a.tlsLibs
	if libs == nil {
		libs = []string{}
	}
	return &TLSStatus{Libraries: libs, Skipped: a.tlsSkipped, Error: a.tlsErr, Events: st.Events, Lost: st.Lost,
		Bytes: st.Bytes, Packets: st.Packets, UnknownTuple: st.UnknownTuple}
}
