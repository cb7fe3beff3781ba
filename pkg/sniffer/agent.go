// Package sniffer is the in-pod capture agent (cmd/shark-sniffer): it resolves its
// target (container through containerd, PID or netns path; package target), opens an
// AF_PACKET TPACKET_V3 socket inside the target's network namespace (packages netns
// and afpacket), writes every packet into a bounded FIFO of pcapng segments (package
// fifo), dissects live with the same pipeline as the offline commands, and answers
// queries over an HTTP API in its own network namespace (reachable only through
// `kubectl port-forward`). KFL is evaluated here, so only matching data leaves the node.
//
// The agent never talks to the Kubernetes API: Kubernetes identities arrive with each
// query.
package sniffer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"

	"github.com/kubectl-shark/kubectl-shark/pkg/capfilter"
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect/protocols"
	"github.com/kubectl-shark/kubectl-shark/pkg/export"
	"github.com/kubectl-shark/kubectl-shark/pkg/kfl"
	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/afpacket"
	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/fifo"
	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/netns"
	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/target"
	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/tlsprobe"
)

// Config configures an Agent.
type Config struct {
	Target     target.Spec
	Interfaces []string // empty: every interface of the target netns
	Filter     string   // tcpdump filter syntax
	SnapLen    int
	RingSize   int64 // bytes of the TPACKET_V3 ring, or of the eBPF ring buffer
	// Backend is BackendAFPacket (default), BackendEBPF or BackendAuto.
	Backend string
	// TLS attaches OpenSSL uprobes and dissects the recovered plaintext; TLSLibs
	// are libssl paths (in the target's filesystem) to probe instead of searching.
	TLS     bool
	TLSLibs []string

	DataDir     string
	SegmentSize int64
	SegmentAge  time.Duration
	BufferSize  int64

	Listen    string // API address, default 127.0.0.1:8899
	ReadyFile string // created once capturing
	// Heartbeat, when set, stops the agent if no API request arrived for that long
	// (the plugin's dead-man switch for foreground captures).
	Heartbeat time.Duration

	// Node and Name describe the capture in status and pcapng interface descriptions.
	Node, Name string
	Version    string
}

// Capture backends (Config.Backend).
const (
	BackendAFPacket = "af_packet"
	BackendEBPF     = "ebpf"
	BackendAuto     = "auto"
)

// source is an open capture backend: an AF_PACKET socket or eBPF TC programs.
type source interface {
	Next(ctx context.Context) (afpacket.Packet, error)
	Stats() afpacket.Stats
	Interface(index int) (afpacket.Interface, bool)
	Close() error
}

// State of the capture.
const (
	StateStarting  = "starting"
	StateCapturing = "capturing"
	StateStopped   = "stopped"
	StateError     = "error"
)

// Agent is a running sniffer.
type Agent struct {
	cfg Config
	log *slog.Logger

	tgt  *target.Target
	fifo *fifo.FIFO

	mu       sync.Mutex // guards pipeline, ifmap, capture state, stats below
	pipeline *dissect.Pipeline
	ifmap    map[int]int // target ifindex -> FIFO interface index
	handle   source
	backend  string // the backend in use (or last used): BackendAFPacket or BackendEBPF
	capStop  context.CancelFunc
	capDone  chan struct{}
	filter   string
	state    string
	lastErr  string
	started  time.Time
	prevDrop afpacket.Stats // counters of previous handles (stop/start)
	ifPkts   []uint64       // packets per FIFO interface, by index

	// --tls: the OpenSSL uprobes, the pipeline of their reconstructed plaintext
	// (sharing stream and entry IDs with pipeline), and its FIFO interface.
	tls         *tlsprobe.Probe
	tlsStop     context.CancelFunc
	tlsDone     chan struct{}
	tlsPipeline *dissect.Pipeline
	tlsIface    int // -1 until declared
	tlsLibs     []string
	tlsSkipped  []string
	tlsErr      string
	prevTLS     tlsprobe.Stats

	local     atomic.Pointer[[]netip.Addr] // addresses of the target netns
	packets   atomic.Uint64
	bytes     atomic.Uint64
	lastSeen  atomic.Int64 // unix ns of the last API request
	subsMu    sync.Mutex
	subs      map[chan *dissect.Entry]struct{}
	ctxMu     sync.Mutex
	ctxIDs    map[string]kfl.Identity // identity snapshot from capture start
	readyOnce sync.Once
	ready     chan struct{}
}

// New resolves the target and opens the FIFO; Run starts capturing.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Agent, error) {
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:8899"
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tgt, err := target.Resolve(ctx, cfg.Target)
	if err != nil {
		return nil, fmt.Errorf("resolving the target: %w", err)
	}
	a := &Agent{cfg: cfg, log: log, tgt: tgt, ifmap: map[int]int{}, tlsIface: -1,
		state: StateStarting, subs: map[chan *dissect.Entry]struct{}{}, ready: make(chan struct{})}
	f, res, err := fifo.Open(fifo.Config{Dir: cfg.DataDir, SegmentSize: cfg.SegmentSize, SegmentAge: cfg.SegmentAge,
		BufferSize: cfg.BufferSize, Application: "kubectl-shark sniffer " + cfg.Version})
	if err != nil {
		tgt.Close()
		return nil, err
	}
	a.fifo = f
	if res.Segments > 0 {
		log.Info("re-indexed the data directory", "segments", res.Segments, "packets", res.Packets,
			"next_stream", res.NextStream, "next_entry", res.NextEntry)
	}
	pc := protocols.Config()
	pc.CaptureSource = BackendAFPacket
	pc.IDs = dissect.NewIDs(res.NextStream, res.NextEntry)
	pc.IsLocal = a.isLocal
	a.pipeline = dissect.New(pc, a.onEntry)
	if cfg.TLS {
		tc := protocols.Config()
		tc.CaptureSource = "ebpf_tls"
		tc.IDs, tc.IsLocal = pc.IDs, a.isLocal
		a.tlsPipeline = dissect.New(tc, a.onEntry)
	}
	a.touch()
	return a, nil
}

// isLocal reports whether ip belongs to the target netns (its interfaces' addresses).
// The set is read once per capture start.
func (a *Agent) isLocal(ip netip.Addr) bool {
	for _, p := range a.localAddrs() {
		if p == ip.Unmap() {
			return true
		}
	}
	return false
}

func (a *Agent) localAddrs() []netip.Addr {
	if p := a.local.Load(); p != nil {
		return *p
	}
	var addrs []netip.Addr
	netns.Do(a.tgt.Netns, func() error {
		ifas, err := net.InterfaceAddrs()
		if err != nil {
			return err
		}
		for _, ia := range ifas {
			if pn, ok := ia.(*net.IPNet); ok {
				if ad, ok := netip.AddrFromSlice(pn.IP); ok {
					addrs = append(addrs, ad.Unmap())
				}
			}
		}
		return nil
	})
	a.local.Store(&addrs)
	return addrs
}

// onEntry runs on the capture goroutine (with a.mu held) for every dissected entry.
func (a *Agent) onEntry(e *dissect.Entry) {
	if err := a.fifo.WriteEntry(e); err != nil {
		a.lastErr = err.Error()
	}
	a.subsMu.Lock()
	for ch := range a.subs {
		select {
		case ch <- e:
		default: // a slow follower loses entries rather than stalling the capture
		}
	}
	a.subsMu.Unlock()
}

func (a *Agent) subscribe() chan *dissect.Entry {
	ch := make(chan *dissect.Entry, 4096)
	a.subsMu.Lock()
	a.subs[ch] = struct{}{}
	a.subsMu.Unlock()
	return ch
}

func (a *Agent) unsubscribe(ch chan *dissect.Entry) {
	a.subsMu.Lock()
	delete(a.subs, ch)
	a.subsMu.Unlock()
}

func (a *Agent) touch() { a.lastSeen.Store(time.Now().UnixNano()) }

// Run captures and serves the API until ctx ends (SIGTERM), the heartbeat lapses, or
// the target's namespace goes away. The open segment is flushed before it returns.
func (a *Agent) Run(ctx context.Context) error {
	defer a.tgt.Close()
	ln, err := net.Listen("tcp", a.cfg.Listen)
	if err != nil {
		a.fifo.Close()
		return fmt.Errorf("listening on %s: %w", a.cfg.Listen, err)
	}
	srv := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	a.log.Info("API listening", "address", ln.Addr().String())

	if err := a.Start(a.cfg.Filter); err != nil {
		srv.Close()
		a.fifo.Close()
		return err
	}
	if a.cfg.ReadyFile != "" {
		if err := os.WriteFile(a.cfg.ReadyFile, []byte(time.Now().UTC().Format(time.RFC3339Nano)+"\n"), 0o644); err != nil {
			a.log.Warn("writing the ready file", "path", a.cfg.ReadyFile, "error", err)
		}
	}

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var reason error
loop:
	for {
		select {
		case <-ctx.Done():
			a.log.Info("stopping", "reason", context.Cause(ctx))
			break loop
		case now := <-tick.C:
			a.fifo.Flush() // a quiet capture's last packets reach the disk too
			a.mu.Lock()
			a.pipeline.Advance(now)
			if a.tlsPipeline != nil {
				a.tlsPipeline.Advance(now)
			}
			a.mu.Unlock()
			if a.cfg.Heartbeat > 0 && now.Sub(time.Unix(0, a.lastSeen.Load())) > a.cfg.Heartbeat {
				a.log.Warn("no heartbeat from the plugin: stopping (dead-man switch)", "timeout", a.cfg.Heartbeat)
				reason = nil
				break loop
			}
		}
	}
	a.Stop()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(shutdown)
	a.mu.Lock()
	a.pipeline.Flush()
	if a.tlsPipeline != nil {
		a.tlsPipeline.Flush()
	}
	a.mu.Unlock()
	if err := a.fifo.Close(); err != nil {
		return fmt.Errorf("flushing the open segment: %w", err)
	}
	return reason
}

// compileFilter turns a tcpdump expression into socket filter instructions. The
// program is compiled for Ethernet framing, which is what AF_PACKET raw sockets show
// for veth, loopback and Ethernet devices (every interface of a typical pod).
func compileFilter(expr string, snaplen int) ([]unix.SockFilter, error) {
	if expr == "" {
		return nil, nil
	}
	f, err := capfilter.Compile(expr, layers.LinkTypeEthernet, snaplen)
	if err != nil {
		return nil, err
	}
	var prog []unix.SockFilter
	for _, in := range f.Instructions() {
		prog = append(prog, unix.SockFilter{Code: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K})
	}
	return prog, nil
}

// Start (re)starts capturing with a tcpdump filter ("" for every packet).
func (a *Agent) Start(filter string) error {
	prog, err := compileFilter(filter, a.cfg.SnapLen)
	if err != nil {
		return err
	}
	a.Stop()
	a.mu.Lock()
	defer a.mu.Unlock()
	h, backend, err := a.open(filter, prog)
	if err != nil {
		a.state, a.lastErr = StateError, err.Error()
		return err
	}
	if a.backend != backend {
		a.pipeline.SetCaptureSource(backend)
	}
	a.backend = backend
	a.local.Store(nil)
	ctx, cancel := context.WithCancel(context.Background())
	a.handle, a.capStop, a.capDone = h, cancel, make(chan struct{})
	a.filter, a.state, a.lastErr = filter, StateCapturing, ""
	if a.started.IsZero() {
		a.started = time.Now()
	}
	go a.capture(ctx, h, a.capDone)
	if a.cfg.TLS {
		a.startTLS()
	}
	a.readyOnce.Do(func() { close(a.ready) })
	a.log.Info("capturing", "target", a.tgt.Description, "backend", backend, "filter", filter, "interfaces", a.cfg.Interfaces)
	return nil
}

// open opens the configured backend. BackendAuto tries eBPF and falls back to
// AF_PACKET, logging why.
func (a *Agent) open(filter string, prog []unix.SockFilter) (source, string, error) {
	switch a.cfg.Backend {
	case BackendEBPF, BackendAuto:
		h, err := a.openEBPF(filter)
		if err == nil {
			return h, BackendEBPF, nil
		}
		if a.cfg.Backend == BackendEBPF {
			return nil, "", fmt.Errorf("attaching the eBPF capture programs in %s: %w", a.tgt.Description, err)
		}
		a.log.Warn("the eBPF backend is not available here: capturing with AF_PACKET (--backend auto)", "error", err)
	}
	blocks := 0
	if a.cfg.RingSize > 0 {
		blocks = int(a.cfg.RingSize / afpacket.DefaultBlockSize)
		if blocks < 2 {
			blocks = 2
		}
	}
	h, err := afpacket.Open(a.tgt.Netns, afpacket.Config{Interfaces: a.cfg.Interfaces, SnapLen: a.cfg.SnapLen,
		NumBlocks: blocks, Filter: prog})
	if err != nil {
		return nil, "", fmt.Errorf("opening the capture socket in %s: %w", a.tgt.Description, err)
	}
	return h, BackendAFPacket, nil
}

// Stop pauses capturing; stored data stays queryable.
func (a *Agent) Stop() {
	a.stopTLS()
	a.mu.Lock()
	h, cancel, done := a.handle, a.capStop, a.capDone
	a.mu.Unlock()
	if h == nil {
		return
	}
	cancel()
	<-done
	a.mu.Lock()
	st := h.Stats()
	a.prevDrop.Packets += st.Packets
	a.prevDrop.KernelDrops += st.KernelDrops
	a.prevDrop.FreezeQueue += st.FreezeQueue
	a.prevDrop.Delivered += st.Delivered
	a.prevDrop.Skipped += st.Skipped
	h.Close()
	a.handle = nil
	if a.state == StateCapturing {
		a.state = StateStopped
	}
	a.mu.Unlock()
	a.fifo.Flush()
}

// capture is the packet loop of one handle.
func (a *Agent) capture(ctx context.Context, h source, done chan struct{}) {
	defer close(done)
	var dp dissect.Packet
	lastKey, idx := -1, 0
	for {
		p, err := h.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, afpacket.ErrClosed) {
				return
			}
			a.mu.Lock()
			a.state, a.lastErr = StateError, "reading packets: "+err.Error()
			a.mu.Unlock()
			a.log.Error("reading packets", "error", err)
			return
		}
		a.packets.Add(1)
		a.bytes.Add(uint64(len(p.Data)))
		a.mu.Lock()
		// Bursts come from one interface: skip the map lookup while it repeats.
		if key := p.Ifindex<<16 | int(p.LinkType); key != lastKey {
			i, err := a.ifaceIndex(h, p.Ifindex, p.LinkType)
			if err != nil {
				a.lastErr = err.Error()
				a.mu.Unlock()
				continue
			}
			lastKey, idx = key, i
		}
		a.countPacket(idx)
		dp = dissect.Packet{Timestamp: p.Timestamp, LinkType: layers.LinkType(p.LinkType), Interface: idx, Data: p.Data, Length: p.Length}
		a.store(a.pipeline, &dp, !p.Direction.Inbound())
		a.mu.Unlock()
	}
}

// store dissects a packet in pl and writes it into the FIFO with the stream ID the
// pipeline gave it. Called with a.mu held; dp.Data is not kept.
func (a *Agent) store(pl *dissect.Pipeline, dp *dissect.Packet, outbound bool) {
	sid := pl.Packet(dp)
	flags := export.FlagInbound
	if outbound {
		flags = export.FlagOutbound
	}
	if err := a.fifo.WritePacket(export.Packet{Timestamp: dp.Timestamp, Interface: dp.Interface, CaptureLength: len(dp.Data),
		Length: dp.Length, Data: dp.Data, Flags: flags}, sid); err != nil {
		a.lastErr = err.Error()
	}
}

// countPacket counts a packet of FIFO interface idx. Called with a.mu held.
func (a *Agent) countPacket(idx int) {
	for len(a.ifPkts) <= idx {
		a.ifPkts = append(a.ifPkts, 0)
	}
	a.ifPkts[idx]++
}

// ifaceIndex maps a target ifindex (and link type) to a FIFO interface, declaring it
// on first sight. Called with a.mu held.
func (a *Agent) ifaceIndex(h source, ifindex int, lt afpacket.LinkType) (int, error) {
	key := ifindex<<16 | int(lt)
	if idx, ok := a.ifmap[key]; ok {
		return idx, nil
	}
	name := fmt.Sprintf("if%d", ifindex)
	if ifc, ok := h.Interface(ifindex); ok {
		name = ifc.Name
	}
	desc := a.tgt.Description
	if a.cfg.Node != "" {
		desc += " on node " + a.cfg.Node
	}
	snap := a.cfg.SnapLen
	if snap <= 0 {
		snap = afpacket.DefaultSnapLen
	}
	idx, err := a.fifo.AddInterface(export.Interface{LinkType: layers.LinkType(lt), Name: name, Description: desc,
		SnapLen: snap, Filter: a.filter, OS: "Linux"})
	if err != nil {
		return 0, err
	}
	a.ifmap[key] = idx
	return idx, nil
}

// Ready is closed once the capture socket is attached.
func (a *Agent) Ready() <-chan struct{} { return a.ready }
