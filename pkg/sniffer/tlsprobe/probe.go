package tlsprobe

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"

	"github.com/kubectl-shark/kubectl-shark/bpf"
	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/internal/monoclock"
	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/netns"
)

// LinkType is the packets' link type: LINKTYPE_RAW (IPv4 or IPv6 header
// first), the value of gopacket's layers.LinkTypeRaw.
const LinkType = 101

// ErrClosed is returned by Next after Close.
var ErrClosed = errors.New("TLS probe closed")

// capHint follows permission errors: what the agent needs to load and attach
// the probes (measured on Linux 6.18, see the package doc).
const capHint = "needs CAP_BPF and CAP_PERFMON"

// perfUprobeHint follows permission errors of perf-event uprobes, used where
// the kernel has no uprobe_multi links (before 6.6).
const perfUprobeHint = "uprobes through perf events need CAP_SYS_ADMIN; on Linux 6.6+ CAP_BPF and CAP_PERFMON suffice"

// forcePerfUprobes makes Open use perf-event uprobes even where uprobe_multi
// links work, so that tests cover both.
var forcePerfUprobes = false

// Defaults for Config.
const (
	DefaultProcRoot        = "/proc"
	DefaultRingSize        = 4 << 20
	DefaultDrainInterval   = 10 * time.Millisecond
	DefaultMaxPendingBytes = 256 << 10
	DefaultMaxPendingTotal = 16 << 20
	DefaultPendingTimeout  = time.Second
	DefaultIdleTimeout     = 10 * time.Minute
	DefaultMaxConns        = 65536
)

// Config configures a Probe. Netns is required; the other fields have
// defaults.
type Config struct {
	// Netns is the target's network namespace (target.Target.Netns): only
	// SSL calls of processes in it are reported. The Probe does not take
	// ownership of it.
	Netns *os.File
	// PID is the target's process (target.Target.PID), 0 for a target named
	// by its namespace path. It is searched first, and its root file system
	// is where TLSLibs are looked up.
	PID int
	// ProcRoot is where the PID namespace holding the target is mounted
	// (DefaultProcRoot).
	ProcRoot string
	// TLSLibs names the libssl files to probe instead of discovering them
	// (--tls-lib): absolute paths in the root file system of PID, or of the
	// agent when PID is 0.
	TLSLibs []string

	// RingSize is the size of the ring buffer in bytes, a power of two and a
	// multiple of the page size (DefaultRingSize).
	RingSize int
	// WakeupBytes wakes the reader when that many bytes wait in the ring
	// (default RingSize/4).
	WakeupBytes int
	// DrainInterval is how often the ring is drained when the reader was not
	// woken (DefaultDrainInterval): the longest a quiet connection's data
	// waits in the ring.
	DrainInterval time.Duration

	// MaxPendingBytes bounds the plaintext of one SSL object held while its
	// connection is unknown, MaxPendingTotal that of all of them; beyond,
	// or after PendingTimeout, it is sent with a placeholder tuple.
	MaxPendingBytes int
	MaxPendingTotal int
	PendingTimeout  time.Duration
	// IdleTimeout forgets a connection without SSL calls for that long
	// (DefaultIdleTimeout); MaxConns bounds the connections tracked
	// (DefaultMaxConns), evicting the least recently active.
	IdleTimeout time.Duration
	MaxConns    int
}

// Stats are a Probe's counters since Open.
type Stats struct {
	// Events is the number of ring records read (data chunks and closes).
	Events uint64
	// Lost is the number of records the kernel could not write because the
	// ring was full; LostBytes their plaintext bytes.
	Lost, LostBytes uint64
	// ReadErrors counts records dropped because the application's buffer
	// could not be read (paged out).
	ReadErrors uint64
	// TruncatedBytes counts bytes beyond the first MiB of a single SSL call,
	// which are not copied (the stream shows a gap).
	TruncatedBytes uint64
	// Bytes and Packets count the plaintext and the synthetic packets
	// returned by Next.
	Bytes, Packets uint64
	// UnknownTuple counts records sent with a placeholder tuple because their
	// connection's addresses were never learned.
	UnknownTuple uint64
	// Duplicates counts records not reported because the other end of the
	// connection, also in the target namespace, reports it.
	Duplicates uint64
	// Evicted counts connections forgotten because MaxConns were tracked;
	// PendingDrops records of unknown connections dropped with them.
	Evicted, PendingDrops uint64
	// DecodeErrors counts malformed ring records (a bug if not zero).
	DecodeErrors uint64
}

// Probe is an attached set of TLS uprobes and the reader of their ring. Next
// must not be called concurrently with itself; Stats, Libraries and Close are
// safe to call from any goroutine, and Close wakes a blocked Next.
type Probe struct {
	cfg         Config
	objs        objects
	hooks       hooks
	hookFlavour string
	multi       bool // uprobe_multi links rather than perf events
	links       []link.Link
	libs        []Library
	rd          *ringbuf.Reader

	mu       sync.Mutex // held by Next
	rec      ringbuf.Record
	b        *builder
	outIdx   int
	lastTick int64

	cnt    counters
	closed atomic.Bool

	statsMu    sync.Mutex // guards objs.Stats against Close
	objsClosed bool
	final      [statMax]uint64
}

// Kernel counters (the stats map of tls.c).
const (
	statEvents = iota
	statLost
	statLostBytes
	statReadErrors
	statTruncatedBytes
	statMax
)

// uprobes are the functions probed in each library. SSL_read and SSL_write
// exist in every OpenSSL; the _ex variants since 1.1.1.
var uprobes = []struct {
	symbol       string
	enter, leave func(*objects) *ebpf.Program
	required     bool
}{
	{"SSL_write", func(o *objects) *ebpf.Program { return o.SslWriteEnter },
		func(o *objects) *ebpf.Program { return o.SslWriteLeave }, true},
	{"SSL_read", func(o *objects) *ebpf.Program { return o.SslReadEnter },
		func(o *objects) *ebpf.Program { return o.SslReadLeave }, true},
	{"SSL_write_ex", func(o *objects) *ebpf.Program { return o.SslWriteExEnter },
		func(o *objects) *ebpf.Program { return o.SslWriteExLeave }, false},
	{"SSL_read_ex", func(o *objects) *ebpf.Program { return o.SslReadExEnter },
		func(o *objects) *ebpf.Program { return o.SslReadExLeave }, false},
	{"SSL_free", func(o *objects) *ebpf.Program { return o.SslFreeEnter }, nil, false},
}

// Open finds the target's libssl files, loads the programs and attaches them.
// Everything it created is released when it fails.
func Open(cfg Config) (_ *Probe, err error) {
	if cfg.Netns == nil {
		return nil, errors.New("opening TLS probes: no target network namespace")
	}
	if cfg.ProcRoot == "" {
		cfg.ProcRoot = DefaultProcRoot
	}
	if cfg.RingSize == 0 {
		cfg.RingSize = DefaultRingSize
	}
	page := os.Getpagesize()
	if cfg.RingSize < page || cfg.RingSize&(cfg.RingSize-1) != 0 {
		return nil, fmt.Errorf("opening TLS probes: ring size %d is not a power of two of at least a page", cfg.RingSize)
	}
	if cfg.WakeupBytes <= 0 {
		cfg.WakeupBytes = cfg.RingSize / 4
	}
	if cfg.DrainInterval <= 0 {
		cfg.DrainInterval = DefaultDrainInterval
	}
	if cfg.MaxPendingBytes <= 0 {
		cfg.MaxPendingBytes = DefaultMaxPendingBytes
	}
	if cfg.MaxPendingTotal <= 0 {
		cfg.MaxPendingTotal = DefaultMaxPendingTotal
	}
	if cfg.PendingTimeout <= 0 {
		cfg.PendingTimeout = DefaultPendingTimeout
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}

	st, err := cfg.Netns.Stat()
	if err != nil {
		return nil, fmt.Errorf("opening TLS probes: reading the target netns: %w", err)
	}
	ino := st.Sys().(*syscall.Stat_t).Ino

	cands, err := discover(cfg.ProcRoot, ino, cfg.PID, cfg.TLSLibs)
	if err != nil {
		return nil, fmt.Errorf("opening TLS probes: %w", err)
	}
	// The descriptors are needed only until the uprobes hold the inodes.
	defer func() {
		for _, c := range cands {
			c.f.Close()
		}
	}()

	p := &Probe{cfg: cfg}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	if err := p.load(uint32(ino)); err != nil {
		return nil, err
	}
	var errs []error
	attached := 0
	for _, c := range cands {
		if err := p.attach(c); err != nil {
			if isPerm(err) {
				return nil, fmt.Errorf("opening TLS probes: %w", err)
			}
			c.Err = err
			errs = append(errs, err)
		} else {
			attached++
		}
		p.libs = append(p.libs, c.Library)
	}
	if attached == 0 {
		return nil, fmt.Errorf("opening TLS probes: %w", errors.Join(errs...))
	}
	if len(cfg.TLSLibs) > 0 && len(errs) > 0 {
		// Every library the user named must work.
		return nil, fmt.Errorf("opening TLS probes: %w", errors.Join(errs...))
	}

	if p.rd, err = ringbuf.NewReader(p.objs.Events); err != nil {
		return nil, fmt.Errorf("opening the TLS ring buffer: %w", err)
	}
	lo, hi := localPortRange(cfg.Netns)
	p.b = newBuilder(limits{
		maxPending:      cfg.MaxPendingBytes,
		maxPendingTotal: cfg.MaxPendingTotal,
		pendingTimeout:  int64(cfg.PendingTimeout),
		idleTimeout:     int64(cfg.IdleTimeout),
		maxConns:        cfg.MaxConns,
		ephemeralLo:     lo,
		ephemeralHi:     hi,
	}, &p.cnt)
	p.b.wallOffset, _ = monoclock.Offset()
	return p, nil
}

func isPerm(err error) bool {
	return errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES)
}

func permHint(err error) string {
	if isPerm(err) {
		return " (" + capHint + ")"
	}
	return ""
}

// objects are the maps and uprobe programs of bpf/src/tls.c; the socket hooks
// are loaded apart, in the flavour the kernel supports.
type objects struct {
	bpf.TLSMaps
	SslWriteEnter   *ebpf.Program `ebpf:"ssl_write_enter"`
	SslWriteLeave   *ebpf.Program `ebpf:"ssl_write_leave"`
	SslReadEnter    *ebpf.Program `ebpf:"ssl_read_enter"`
	SslReadLeave    *ebpf.Program `ebpf:"ssl_read_leave"`
	SslWriteExEnter *ebpf.Program `ebpf:"ssl_write_ex_enter"`
	SslWriteExLeave *ebpf.Program `ebpf:"ssl_write_ex_leave"`
	SslReadExEnter  *ebpf.Program `ebpf:"ssl_read_ex_enter"`
	SslReadExLeave  *ebpf.Program `ebpf:"ssl_read_ex_leave"`
	SslFreeEnter    *ebpf.Program `ebpf:"ssl_free_enter"`
}

func (o *objects) Close() error {
	errs := []error{o.TLSMaps.Close()}
	for _, p := range []*ebpf.Program{o.SslWriteEnter, o.SslWriteLeave, o.SslReadEnter, o.SslReadLeave,
		o.SslWriteExEnter, o.SslWriteExLeave, o.SslReadExEnter, o.SslReadExLeave, o.SslFreeEnter} {
		if p != nil {
			errs = append(errs, p.Close())
		}
	}
	return errors.Join(errs...)
}

// hooks are the programs on tcp_sendmsg and tcp_recvmsg, of one flavour.
type hooks struct {
	Send, Recv *ebpf.Program
}

type tracepointHooks struct {
	Send *ebpf.Program `ebpf:"sock_send_length_tp"`
	Recv *ebpf.Program `ebpf:"sock_recv_length_tp"`
}

type fentryHooks struct {
	Send *ebpf.Program `ebpf:"tcp_sendmsg_fentry"`
	Recv *ebpf.Program `ebpf:"tcp_recvmsg_fentry"`
}

type kprobeHooks struct {
	Send *ebpf.Program `ebpf:"tcp_sendmsg_kprobe"`
	Recv *ebpf.Program `ebpf:"tcp_recvmsg_kprobe"`
}

func (h *hooks) Close() error {
	var errs []error
	for _, p := range []*ebpf.Program{h.Send, h.Recv} {
		if p != nil {
			errs = append(errs, p.Close())
		}
	}
	return errors.Join(errs...)
}

func (p *Probe) load(netnsIno uint32) error {
	spec, err := bpf.LoadTLS()
	if err != nil {
		return fmt.Errorf("loading TLS probes: %w", err)
	}
	spec.Maps[bpf.TLSMapEvents].MaxEntries = uint32(p.cfg.RingSize)
	if err := spec.Variables[bpf.TLSVarTargetNetns].Set(netnsIno); err != nil {
		return fmt.Errorf("loading TLS probes: %w", err)
	}
	if err := spec.Variables[bpf.TLSVarWakeupBytes].Set(uint32(p.cfg.WakeupBytes)); err != nil {
		return fmt.Errorf("loading TLS probes: %w", err)
	}
	// uprobe_multi links (Linux 6.6+) attach with CAP_BPF and CAP_PERFMON,
	// perf-event uprobes need CAP_SYS_ADMIN; the programs must be loaded for
	// one or the other.
	p.multi = !forcePerfUprobes && features.HaveBPFLinkUprobeMulti() == nil
	if p.multi {
		for _, ps := range spec.Programs {
			if strings.HasPrefix(ps.SectionName, "uprobe/") || strings.HasPrefix(ps.SectionName, "uretprobe/") {
				ps.AttachType = ebpf.AttachTraceUprobeMulti
			}
		}
	}
	cache := btf.NewCache()
	if err := spec.LoadAndAssign(&p.objs, &ebpf.CollectionOptions{Cache: cache}); err != nil {
		return loadErr(err)
	}

	// The socket hooks share the calls map just created. The first flavour
	// the kernel accepts wins (see bpf/src/tls.c).
	opts := &ebpf.CollectionOptions{Cache: cache, MapReplacements: map[string]*ebpf.Map{bpf.TLSMapCalls: p.objs.Calls}}
	tracing := func(prog *ebpf.Program, _ string) (link.Link, error) {
		return link.AttachTracing(link.TracingOptions{Program: prog})
	}
	flavours := []struct {
		name   string
		load   func() (hooks, error)
		attach func(*ebpf.Program, string) (link.Link, error)
		send   string
		recv   string
	}{
		{"tracepoints", func() (hooks, error) {
			var h tracepointHooks
			err := spec.LoadAndAssign(&h, opts)
			return hooks(h), err
		}, tracing, "sock_send_length", "sock_recv_length"},
		{"fentry", func() (hooks, error) {
			var h fentryHooks
			err := spec.LoadAndAssign(&h, opts)
			return hooks(h), err
		}, tracing, "tcp_sendmsg", "tcp_recvmsg"},
		{"kprobes", func() (hooks, error) {
			var h kprobeHooks
			err := spec.LoadAndAssign(&h, opts)
			return hooks(h), err
		}, func(prog *ebpf.Program, symbol string) (link.Link, error) {
			return link.Kprobe(symbol, prog, nil)
		}, "tcp_sendmsg", "tcp_recvmsg"},
	}
	var errs []error
	for _, f := range flavours {
		h, err := f.load()
		if err == nil {
			err = p.attachHooks(h, f.attach, f.send, f.recv)
		} else {
			err = loadErr(err)
		}
		if err == nil {
			p.hookFlavour = f.name
			return nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", f.name, err))
	}
	return fmt.Errorf("attaching socket hooks: %w", errors.Join(errs...))
}

func loadErr(err error) error {
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) {
		return fmt.Errorf("loading TLS probes: %+v", ve)
	}
	return fmt.Errorf("loading TLS probes: %w%s", err, permHint(err))
}

// attachHooks attaches h to the send and recv attachment points with
// attachFn and takes ownership of h; on failure nothing of it stays loaded or
// attached.
func (p *Probe) attachHooks(h hooks, attachFn func(*ebpf.Program, string) (link.Link, error), send, recv string) error {
	var links []link.Link
	for _, k := range []struct {
		target string
		prog   *ebpf.Program
	}{{send, h.Send}, {recv, h.Recv}} {
		l, err := attachFn(k.prog, k.target)
		if err != nil {
			for _, l := range links {
				l.Close()
			}
			h.Close()
			return fmt.Errorf("attaching to %s: %w%s", k.target, err, permHint(err))
		}
		links = append(links, l)
	}
	p.hooks = h
	p.links = append(p.links, links...)
	return nil
}

// attach attaches the uprobes to one library, all or none.
func (p *Probe) attach(c *candidate) error {
	// Through the open descriptor: the kernel resolves the magic link to the
	// file we identified, whatever happened to its path since.
	fdPath := "/proc/self/fd/" + strconv.Itoa(int(c.f.Fd()))
	ex, err := link.OpenExecutable(fdPath)
	if err != nil {
		return fmt.Errorf("opening %s: %w", c.Path, err)
	}
	var links []link.Link
	var syms []string
	fail := func(err error) error {
		for _, l := range links {
			l.Close()
		}
		return err
	}
	for _, u := range uprobes {
		progs := []*ebpf.Program{u.enter(&p.objs)}
		if u.leave != nil {
			progs = append(progs, u.leave(&p.objs))
		}
		var got []link.Link
		var err error
		for i, prog := range progs {
			var l link.Link
			switch {
			case p.multi && i == 0:
				l, err = ex.UprobeMulti([]string{u.symbol}, prog, nil)
			case p.multi:
				l, err = ex.UretprobeMulti([]string{u.symbol}, prog, nil)
			case i == 0:
				l, err = ex.Uprobe(u.symbol, prog, nil)
			default:
				l, err = ex.Uretprobe(u.symbol, prog, nil)
			}
			if err != nil {
				break
			}
			got = append(got, l)
		}
		if err != nil {
			for _, l := range got {
				l.Close()
			}
			if errors.Is(err, link.ErrNoSymbol) {
				if !u.required {
					continue
				}
				return fail(fmt.Errorf("attaching to %s: symbol %s not found (only OpenSSL's dynamically linked libssl is supported)", c.Path, u.symbol))
			}
			hint := permHint(err)
			if !p.multi && isPerm(err) {
				hint = " (" + perfUprobeHint + ")"
			}
			return fail(fmt.Errorf("attaching to %s in %s: %w%s", u.symbol, c.Path, err, hint))
		}
		links = append(links, got...)
		syms = append(syms, u.symbol)
	}
	p.links = append(p.links, links...)
	c.Symbols = syms
	return nil
}

// localPortRange reads ip_local_port_range in the namespace ns; on failure it
// returns Linux's default.
func localPortRange(ns *os.File) (lo, hi uint16) {
	lo, hi = 32768, 60999
	var b []byte
	err := netns.Do(ns, func() error {
		var err error
		b, err = os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
		return err
	})
	if err != nil {
		return lo, hi
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return lo, hi
	}
	l, err1 := strconv.ParseUint(f[0], 10, 16)
	h, err2 := strconv.ParseUint(f[1], 10, 16)
	if err1 != nil || err2 != nil || l > h {
		return lo, hi
	}
	return uint16(l), uint16(h)
}

// tickEvery is how often (in event time, or when the ring is idle) the
// monotonic-to-wall offset is refreshed and connections are swept.
const tickEvery = int64(250 * time.Millisecond)

func (p *Probe) tick(now int64) {
	if now-p.lastTick < tickEvery {
		return
	}
	p.lastTick = now
	p.b.wallOffset, _ = monoclock.Offset()
	p.b.sweep(now)
}

// Next returns the next synthetic packet, waiting for one if needed. It
// returns ctx.Err() when ctx is done (noticed within the drain interval) and
// ErrClosed after Close. The packet's Data is valid until the next call to
// Next or Close.
func (p *Probe) Next(ctx context.Context) (Packet, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ev event
	for {
		if p.outIdx < len(p.b.out) {
			pkt := p.b.out[p.outIdx]
			p.outIdx++
			return pkt, nil
		}
		p.b.reset()
		p.outIdx = 0
		if p.closed.Load() {
			return Packet{}, ErrClosed
		}
		if err := ctx.Err(); err != nil {
			return Packet{}, err
		}
		p.rd.SetDeadline(time.Now().Add(p.cfg.DrainInterval))
		err := p.rd.ReadInto(&p.rec)
		switch {
		case err == nil:
			data, err := decodeEvent(p.rec.RawSample, &ev)
			if err != nil {
				p.cnt.decodeErrors.Add(1)
				continue
			}
			p.tick(ev.ts)
			p.b.event(&ev, data)
		case errors.Is(err, os.ErrDeadlineExceeded):
			p.tick(monoclock.Now())
		case p.closed.Load() || errors.Is(err, os.ErrClosed):
			return Packet{}, ErrClosed
		default:
			return Packet{}, fmt.Errorf("reading the TLS ring buffer: %w", err)
		}
	}
}

// Libraries describes the libssl files found: attached ones have Symbols,
// the others an Err.
func (p *Probe) Libraries() []Library {
	libs := make([]Library, len(p.libs))
	for i, l := range p.libs {
		l.PIDs = append([]int(nil), l.PIDs...)
		l.Symbols = append([]string(nil), l.Symbols...)
		libs[i] = l
	}
	return libs
}

// Attachment says how the probes are attached, for the agent's log: the kind
// of uprobes and the flavour of socket hooks, e.g. "uprobe_multi links,
// socket hooks: tracepoints".
func (p *Probe) Attachment() string {
	kind := "perf_event uprobes"
	if p.multi {
		kind = "uprobe_multi links"
	}
	return kind + ", socket hooks: " + p.hookFlavour
}

// Stats returns the counters.
func (p *Probe) Stats() Stats {
	k := p.kernelStats()
	return Stats{
		Events:         p.cnt.events.Load(),
		Lost:           k[statLost],
		LostBytes:      k[statLostBytes],
		ReadErrors:     k[statReadErrors],
		TruncatedBytes: k[statTruncatedBytes],
		Bytes:          p.cnt.bytes.Load(),
		Packets:        p.cnt.packets.Load(),
		UnknownTuple:   p.cnt.unknownTuple.Load(),
		Duplicates:     p.cnt.duplicates.Load(),
		Evicted:        p.cnt.evicted.Load(),
		PendingDrops:   p.cnt.pendingDrops.Load(),
		DecodeErrors:   p.cnt.decodeErrors.Load(),
	}
}

// kernelStats sums the per-CPU counters, or returns their last values after
// Close.
func (p *Probe) kernelStats() [statMax]uint64 {
	p.statsMu.Lock()
	defer p.statsMu.Unlock()
	if p.objsClosed || p.objs.Stats == nil {
		return p.final
	}
	var out [statMax]uint64
	var vals []uint64
	for i := range uint32(statMax) {
		if err := p.objs.Stats.Lookup(i, &vals); err != nil {
			return p.final
		}
		for _, v := range vals {
			out[i] += v
		}
	}
	p.final = out
	return out
}

// Close detaches the probes and releases every kernel object. It is safe to
// call more than once and concurrently with Next, which it wakes. Detaching
// does not need the library files: it works after their container is gone.
func (p *Probe) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	var errs []error
	if p.rd != nil {
		errs = append(errs, p.rd.Close())
	}
	for _, l := range p.links {
		errs = append(errs, l.Close())
	}
	p.links = nil
	p.kernelStats()
	p.statsMu.Lock()
	errs = append(errs, p.hooks.Close(), p.objs.Close())
	p.objsClosed = true
	p.statsMu.Unlock()
	return errors.Join(errs...)
}
