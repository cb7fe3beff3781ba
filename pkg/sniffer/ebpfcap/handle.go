package ebpfcap

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"

	"github.com/kubectl-shark/kubectl-shark/bpf"
	"github.com/kubectl-shark/kubectl-shark/pkg/capfilter"
	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/afpacket"
	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/internal/monoclock"
	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/netns"
)

// Defaults and limits of Config.
const (
	DefaultSnapLen      = afpacket.DefaultSnapLen
	DefaultRingSize     = 8 << 20
	DefaultPollInterval = 5 * time.Millisecond
	// MaxKernelSnap is the most bytes of a packet the program copies (the
	// largest GSO packet on veth); SnapLen above it keeps MaxKernelSnap.
	MaxKernelSnap = 65536
	maxRingSize   = 1 << 30
)

// Errors shared with package afpacket, so that callers test one value.
var (
	// ErrClosed is returned by Next after Close.
	ErrClosed = afpacket.ErrClosed
	// ErrNoSuchInterface is returned (wrapped) by Open for an unknown
	// interface name.
	ErrNoSuchInterface = afpacket.ErrNoSuchInterface
)

// hdrLen is the size of the header before each packet in the ring.
const hdrLen = int(unsafe.Sizeof(bpf.CapturePktHdr{}))

// Config configures a capture. The zero value captures every interface of the
// namespace, whole packets (up to MaxKernelSnap bytes), with no filter and an
// 8 MiB ring.
type Config struct {
	// Interfaces to capture on, by name; empty means all interfaces of the
	// namespace, including ones created later.
	Interfaces []string
	// SnapLen is the number of bytes kept of each packet (DefaultSnapLen);
	// the kernel copies at most MaxKernelSnap.
	SnapLen int
	// RingSize is the size of the BPF ring buffer in bytes (DefaultRingSize),
	// rounded up to a power of two, and to at least twice the largest record.
	RingSize int
	// Filter selects packets, compiled (pkg/capfilter) for their link-layer
	// header: Ethernet on Ethernet, veth and loopback devices. It runs in the
	// kernel (see the package doc); nil accepts every packet.
	Filter *capfilter.Filter
	// WakeupBytes wakes a waiting Next as soon as this many bytes are unread
	// (default: an eighth of the ring); below it Next reads every
	// PollInterval.
	WakeupBytes int
	// PollInterval is how often a waiting Next looks at the ring
	// (DefaultPollInterval; millisecond resolution).
	PollInterval time.Duration
	// ForceLegacyTC attaches with a clsact qdisc and bpf filters even where
	// TCX is available.
	ForceLegacyTC bool

	// userFilter runs Filter in user space (tests of the fallback).
	userFilter bool
}

// Handle is an open capture. See the package doc for its concurrency rules.
type Handle struct {
	snap     int
	poll     time.Duration
	filter   *capfilter.Filter // run by Next; nil when none or in the kernel
	kfilter  bool
	follow   bool     // attach to interfaces created later
	ns       *os.File // the target namespace (a duplicate), nil: our own
	objs     *objects
	rd       *ringbuf.Reader
	nl       *rtnl
	mon      *os.File // link events, when following
	monDone  chan struct{}
	closed   atomic.Bool
	closeMu  sync.Mutex // serializes Close
	closeErr error

	// Next's state, under mu.
	mu       sync.Mutex
	rec      ringbuf.Record
	sll      []byte // SLL2 frames are built here
	offset   int64  // CLOCK_REALTIME - CLOCK_MONOTONIC, ns
	offsetAt int64  // CLOCK_MONOTONIC of the offset's measurement
	lastIf   afpacket.Interface
	lastTab  *ifaceTable

	deliv, skipped, filtered atomic.Uint64
	statsMu                  sync.Mutex
	final                    *afpacket.Stats // counters at Close

	ifMu   sync.Mutex // serializes listing
	ifaces atomic.Pointer[ifaceTable]

	// Attachments, under attMu.
	attMu    sync.Mutex
	mode     Mode
	attached map[int]*attachment
	chosen   []string // Config.Interfaces
	watchErr error
}

// ifaceTable is one listing of the namespace's interfaces.
type ifaceTable struct {
	list    []afpacket.Interface // sorted by index
	byIndex map[int]afpacket.Interface
}

// Open starts a capture in the network namespace ns (nil: the caller's own):
// it loads the programs and attaches them to the interfaces' TC hooks. The
// Handle owns every kernel object it made; Close releases them.
func Open(ns *os.File, cfg Config) (_ *Handle, err error) {
	if cfg.SnapLen <= 0 {
		cfg.SnapLen = DefaultSnapLen
	}
	if cfg.RingSize <= 0 {
		cfg.RingSize = DefaultRingSize
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.PollInterval < time.Millisecond {
		return nil, fmt.Errorf("poll interval %v is below 1ms", cfg.PollInterval)
	}
	if cfg.RingSize > maxRingSize {
		return nil, fmt.Errorf("ring size %d is above %d", cfg.RingSize, maxRingSize)
	}
	kernelSnap := min(cfg.SnapLen, MaxKernelSnap)
	ring := max(cfg.RingSize, os.Getpagesize(), 2*(kernelSnap+hdrLen+8))
	ring = 1 << bitsFor(ring)
	wakeup := cfg.WakeupBytes
	if wakeup <= 0 {
		wakeup = ring / 8
	}
	wakeup = min(wakeup, ring/2)

	h := &Handle{
		snap:     cfg.SnapLen,
		poll:     cfg.PollInterval,
		follow:   len(cfg.Interfaces) == 0,
		chosen:   slices.Clone(cfg.Interfaces),
		attached: map[int]*attachment{},
		sll:      make([]byte, 0, 20+4+kernelSnap),
	}
	h.rec.RawSample = make([]byte, 0, hdrLen+kernelSnap)
	if cfg.ForceLegacyTC {
		h.mode = ModeClsact
	}
	defer func() {
		if err != nil {
			h.Close()
		}
	}()

	h.objs, err = load(loadSettings{snapLen: uint32(kernelSnap), ringSize: uint32(ring), wakeupBytes: uint32(wakeup)})
	if err != nil {
		return nil, err
	}
	if cfg.Filter != nil {
		h.filter = cfg.Filter
		if !cfg.userFilter {
			// A filter the kernel refuses still works, in user space.
			if h.objs.loadFilter(cfg.Filter) == nil {
				h.filter, h.kfilter = nil, true
			}
		}
	}
	if h.rd, err = ringbuf.NewReader(h.objs.Packets); err != nil {
		return nil, fmt.Errorf("mapping the ring buffer: %w", err)
	}
	// Records come without wake-ups: Next always waits with a deadline, the
	// first time with one that has passed.
	h.rd.SetDeadline(time.Now())

	if ns != nil {
		fd, err := unix.FcntlInt(ns.Fd(), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("duplicating the netns descriptor: %w", err)
		}
		h.ns = os.NewFile(uintptr(fd), ns.Name())
	}
	err = h.inNetns(func() error {
		var err error
		if h.nl, err = newRTNL(); err != nil {
			return err
		}
		if h.follow {
			// Subscribed before listing: no new interface is missed.
			h.mon, err = newLinkMonitor()
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	h.offset, h.offsetAt = monoclock.Offset()

	h.attMu.Lock()
	err = h.sync()
	h.attMu.Unlock()
	if err != nil {
		return nil, err
	}
	if h.follow {
		h.monDone = make(chan struct{})
		go h.watch()
	}
	return h, nil
}

// bitsFor returns the smallest b with 1<<b >= n.
func bitsFor(n int) int {
	b := 0
	for 1<<b < n {
		b++
	}
	return b
}

// inNetns runs fn inside the target namespace.
func (h *Handle) inNetns(fn func() error) error {
	if h.ns == nil {
		return fn()
	}
	return netns.Do(h.ns, fn)
}

// Mode returns how the programs are attached.
func (h *Handle) Mode() Mode {
	h.attMu.Lock()
	defer h.attMu.Unlock()
	return h.mode
}

// KernelFilter reports whether Config.Filter runs in the kernel (false: in
// Next, or there is none).
func (h *Handle) KernelFilter() bool { return h.kfilter }

// Err returns the first error met while attaching to an interface created
// after Open (that interface is not captured), or nil.
func (h *Handle) Err() error {
	h.attMu.Lock()
	defer h.attMu.Unlock()
	return h.watchErr
}

// refresh lists the namespace's interfaces again.
func (h *Handle) refresh() (*ifaceTable, error) {
	h.ifMu.Lock()
	defer h.ifMu.Unlock()
	links, err := h.nl.links()
	if err != nil {
		return nil, err
	}
	t := &ifaceTable{list: links, byIndex: make(map[int]afpacket.Interface, len(links))}
	for _, l := range links {
		t.byIndex[l.Index] = l
	}
	h.ifaces.Store(t)
	return t, nil
}

// sync lists the interfaces and attaches to the chosen ones not attached yet,
// forgetting those that are gone. Called with h.attMu held.
func (h *Handle) sync() error {
	t, err := h.refresh()
	if err != nil {
		return err
	}
	for idx, a := range h.attached {
		if _, ok := t.byIndex[idx]; !ok {
			h.detach(a) // gone with the interface: only closes our side
			delete(h.attached, idx)
		}
	}
	want := t.list
	if !h.follow {
		want = nil
		for _, name := range h.chosen {
			i := slices.IndexFunc(t.list, func(ifc afpacket.Interface) bool { return ifc.Name == name })
			if i < 0 {
				have := make([]string, len(t.list))
				for j, ifc := range t.list {
					have[j] = ifc.Name
				}
				return fmt.Errorf("interface %q: %w (the namespace has %s)", name, ErrNoSuchInterface, strings.Join(have, ", "))
			}
			want = append(want, t.list[i])
		}
	}
	var errs []error
	for _, ifc := range want {
		if _, ok := h.attached[ifc.Index]; ok {
			continue
		}
		a, err := h.attach(ifc)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		h.attached[ifc.Index] = a
	}
	return errors.Join(errs...)
}

// watch follows link events until Close, attaching to new interfaces.
func (h *Handle) watch() {
	defer close(h.monDone)
	buf := make([]byte, 32<<10)
	for {
		_, err := h.mon.Read(buf)
		if h.closed.Load() || errors.Is(err, os.ErrClosed) {
			return
		}
		h.attMu.Lock()
		if err != nil && !errors.Is(err, unix.ENOBUFS) {
			if h.watchErr == nil {
				h.watchErr = fmt.Errorf("following link events: %w", err)
			}
			h.attMu.Unlock()
			return
		}
		// Any event, or lost ones (ENOBUFS): compare with a fresh listing.
		if err := h.sync(); err != nil && h.watchErr == nil && !h.closed.Load() {
			h.watchErr = err
		}
		h.attMu.Unlock()
	}
}

// clockRefresh is how often the wall-clock offset is measured again (NTP
// slews the wall clock, not CLOCK_MONOTONIC's rate alone).
const clockRefresh = time.Second

// Next returns the next packet, waiting for one if needed. It returns
// ctx.Err() when ctx is done (noticed within PollInterval) and ErrClosed after
// Close. The packet's Data is valid until the next call to Next or Close.
func (h *Handle) Next(ctx context.Context) (afpacket.Packet, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for {
		if h.closed.Load() {
			return afpacket.Packet{}, ErrClosed
		}
		err := h.rd.ReadInto(&h.rec)
		if err == nil {
			p, ok := h.parse()
			if ok {
				h.deliv.Add(1)
				return p, nil
			}
			continue
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			if h.closed.Load() || errors.Is(err, os.ErrClosed) {
				return afpacket.Packet{}, ErrClosed
			}
			return afpacket.Packet{}, fmt.Errorf("reading the ring buffer: %w", err)
		}
		// The ring is empty: wait up to one poll interval.
		if err := ctx.Err(); err != nil {
			return afpacket.Packet{}, err
		}
		now := time.Now()
		d := now.Add(h.poll)
		if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
			d = cd
		}
		h.rd.SetDeadline(d)
		var ts unix.Timespec
		unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
		if ts.Nano()-h.offsetAt > int64(clockRefresh) {
			h.offset, h.offsetAt = monoclock.Offset()
		}
	}
}

// parse turns the record in h.rec into a packet. It returns false for a
// packet that is not delivered (counted as skipped or filtered).
func (h *Handle) parse() (afpacket.Packet, bool) {
	raw := h.rec.RawSample
	if len(raw) < hdrLen {
		h.skipped.Add(1)
		return afpacket.Packet{}, false
	}
	ne := binary.NativeEndian
	ts := ne.Uint64(raw[0:])
	ifindex := int(ne.Uint32(raw[8:]))
	wireLen := int(ne.Uint32(raw[12:]))
	capLen := int(ne.Uint32(raw[16:]))
	proto := ntohs(ne.Uint16(raw[20:]))
	dir, pktType := raw[22], raw[23]
	vlanTCI, vlanProto := ne.Uint16(raw[24:]), ntohs(ne.Uint16(raw[26:]))
	if hdrLen+capLen > len(raw) {
		h.skipped.Add(1)
		return afpacket.Packet{}, false
	}
	p := afpacket.Packet{
		Timestamp: time.Unix(0, int64(ts)+h.offset),
		Ifindex:   ifindex,
		Protocol:  proto,
		Length:    wireLen,
	}
	if dir != 0 {
		p.Direction = afpacket.DirectionOutgoing
	} else {
		switch d := afpacket.Direction(pktType); d {
		case afpacket.DirectionHost, afpacket.DirectionBroadcast, afpacket.DirectionMulticast, afpacket.DirectionOtherHost:
			p.Direction = d
		default:
			// PACKET_LOOPBACK: multicast looped back to ourselves, which
			// packet sockets do not see either.
			h.skipped.Add(1)
			return afpacket.Packet{}, false
		}
	}
	data := raw[hdrLen : hdrLen+capLen]
	if h.filter != nil && !h.filter.Match(data, wireLen) {
		h.filtered.Add(1)
		return afpacket.Packet{}, false
	}

	ifc, ok := h.iface(ifindex)
	if !ok {
		ifc.LinkType = afpacket.LinkTypeEthernet // created and gone meanwhile
	}
	p.LinkType = ifc.LinkType
	switch ifc.LinkType {
	case afpacket.LinkTypeEthernet:
		if vlanProto != 0 && len(data) >= 12 {
			// Put the tag back after the MAC addresses, in place: the
			// header before the data is parsed already.
			start := hdrLen - 4
			copy(raw[start:], raw[hdrLen:hdrLen+12])
			raw[start+12], raw[start+13] = byte(vlanProto>>8), byte(vlanProto)
			raw[start+14], raw[start+15] = byte(vlanTCI>>8), byte(vlanTCI)
			data = raw[start : hdrLen+capLen]
			p.Length += 4
		}
	case afpacket.LinkTypeRaw:
		if proto != unix.ETH_P_IP && proto != unix.ETH_P_IPV6 {
			h.skipped.Add(1)
			return afpacket.Packet{}, false
		}
	default:
		// LINUX_SLL2 from the packet's metadata, as libpcap builds it.
		// TC shows such devices' packets from their network header.
		s := h.sll[:20]
		clear(s)
		ptype := proto
		if vlanProto != 0 {
			ptype = vlanProto
		}
		binary.BigEndian.PutUint16(s[0:], ptype)
		binary.BigEndian.PutUint32(s[4:], uint32(ifindex))
		binary.BigEndian.PutUint16(s[8:], ifc.HardwareType)
		s[10] = byte(p.Direction)
		if vlanProto != 0 {
			s = append(s, byte(vlanTCI>>8), byte(vlanTCI), byte(proto>>8), byte(proto))
			p.Length += 4
		}
		data = append(s, data...)
		h.sll = data[:0]
		p.Length += 20
	}
	if len(data) > h.snap {
		data = data[:h.snap]
	}
	p.Data = data
	p.CaptureLength = len(data)
	return p, true
}

// iface returns the interface with the index, from the last listing, or from
// a new one for an index it does not know. Called by Next (h.mu held).
func (h *Handle) iface(index int) (afpacket.Interface, bool) {
	t := h.ifaces.Load()
	if t == h.lastTab && h.lastIf.Index == index {
		return h.lastIf, true
	}
	ifc, ok := t.byIndex[index]
	if !ok {
		if t, _ = h.refresh(); t == nil {
			return afpacket.Interface{}, false
		}
		if ifc, ok = t.byIndex[index]; !ok {
			return afpacket.Interface{}, false
		}
	}
	h.lastTab, h.lastIf = t, ifc
	return ifc, true
}

// Interfaces returns the interfaces of the namespace, as last listed (at
// Open, on link events, and whenever a packet came from an unknown index),
// sorted by index.
func (h *Handle) Interfaces() []afpacket.Interface {
	if t := h.ifaces.Load(); t != nil {
		return slices.Clone(t.list)
	}
	return nil
}

// Interface returns the interface with the given index, listing the
// namespace's interfaces again if the index is not known yet.
func (h *Handle) Interface(index int) (afpacket.Interface, bool) {
	t := h.ifaces.Load()
	if t == nil {
		return afpacket.Interface{}, false
	}
	if ifc, ok := t.byIndex[index]; ok {
		return ifc, true
	}
	if h.closed.Load() {
		return afpacket.Interface{}, false
	}
	t, err := h.refresh()
	if err != nil {
		return afpacket.Interface{}, false
	}
	ifc, ok := t.byIndex[index]
	return ifc, ok
}

// Stats returns the counters since Open. Packets counts the packets that
// passed the filter (all that reached the programs without one), including
// those the ring had no room for (KernelDrops); Delivered, Skipped and the
// kernel's counters add up: Packets = Delivered + KernelDrops + Skipped +
// the packets still in the ring.
func (h *Handle) Stats() afpacket.Stats {
	h.statsMu.Lock()
	defer h.statsMu.Unlock()
	if h.final != nil {
		return *h.final
	}
	return h.readStats()
}

// readStats reads the counters (h.statsMu held).
func (h *Handle) readStats() afpacket.Stats {
	// Filtered before seen: every filtered packet was seen first.
	filtered := h.filtered.Load()
	var s afpacket.Stats
	if h.objs != nil && h.objs.Stats != nil {
		var vals []uint64
		if h.objs.Stats.Lookup(uint32(0), &vals) == nil {
			for _, v := range vals {
				s.Packets += v
			}
		}
		if h.objs.Stats.Lookup(uint32(1), &vals) == nil {
			for _, v := range vals {
				s.KernelDrops += v
			}
		}
	}
	s.Packets -= min(filtered, s.Packets)
	s.Delivered = h.deliv.Load()
	s.Skipped = h.skipped.Load()
	return s
}

// Close detaches the programs and releases every kernel object. It is safe to
// call more than once and concurrently with Next, which it wakes.
func (h *Handle) Close() error {
	h.closeMu.Lock()
	defer h.closeMu.Unlock()
	if h.closed.Swap(true) {
		return h.closeErr
	}
	var errs []error
	if h.mon != nil {
		h.mon.Close() // wakes watch
	}
	if h.monDone != nil {
		<-h.monDone
	}

	h.attMu.Lock()
	for idx, a := range h.attached {
		errs = append(errs, h.detach(a))
		delete(h.attached, idx)
	}
	h.attMu.Unlock()

	if h.rd != nil {
		errs = append(errs, h.rd.Close()) // wakes Next
	}
	h.mu.Lock() // Next has returned
	h.statsMu.Lock()
	s := h.readStats()
	h.final = &s
	h.statsMu.Unlock()
	if h.objs != nil {
		errs = append(errs, h.objs.Close())
	}
	h.mu.Unlock()
	if h.nl != nil {
		errs = append(errs, h.nl.Close())
	}
	if h.ns != nil {
		errs = append(errs, h.ns.Close())
	}
	h.closeErr = errors.Join(errs...)
	return h.closeErr
}

func ntohs(v uint16) uint16 {
	var b [2]byte
	binary.NativeEndian.PutUint16(b[:], v)
	return binary.BigEndian.Uint16(b[:])
}
