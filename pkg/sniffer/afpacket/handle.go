package afpacket

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
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/netns"
)

// Defaults for Config.
const (
	DefaultSnapLen      = 262144 // tcpdump's MAXIMUM_SNAPLEN
	DefaultBlockSize    = 256 << 10
	DefaultNumBlocks    = 32
	DefaultBlockTimeout = 100 * time.Millisecond
)

// waitSlice bounds one wait in Next when its context can be cancelled: Next
// notices a cancellation at most this late.
const waitSlice = 100 * time.Millisecond

// Errors.
var (
	// ErrClosed is returned by Next after Close.
	ErrClosed = errors.New("capture handle closed")
	// ErrNoSuchInterface is returned (wrapped) by Open for an unknown interface name.
	ErrNoSuchInterface = errors.New("no such interface")
)

// Config configures a capture. The zero value captures every interface of the
// namespace, whole packets, with no filter and an 8 MiB ring.
type Config struct {
	// Interfaces to capture on, by name; empty means all interfaces of the
	// namespace, including ones created later.
	Interfaces []string
	// SnapLen is the number of bytes kept of each packet (DefaultSnapLen).
	SnapLen int
	// BlockSize is the size of one ring block in bytes, a multiple of the page
	// size (DefaultBlockSize).
	BlockSize int
	// NumBlocks is the number of ring blocks (DefaultNumBlocks).
	NumBlocks int
	// BlockTimeout is how long the kernel fills a block before it hands the
	// block over anyway (DefaultBlockTimeout; millisecond resolution).
	BlockTimeout time.Duration
	// Filter is a classic BPF program, as printed by `tcpdump -dd`, run on
	// the packet from its link-layer header on (see the package doc); nil
	// accepts every packet. The Handle keeps no reference to it.
	Filter []unix.SockFilter
	// Cooked makes every packet LINKTYPE_LINUX_SLL2, as `tcpdump -i any` writes.
	Cooked bool
}

// Handle is an open capture. See the package doc for its concurrency rules.
type Handle struct {
	cfg        Config
	snap       uint32 // Config.SnapLen
	kernelSnap uint32 // what the filter lets the kernel copy
	ifindexes  []int  // chosen interfaces when more than one; nil otherwise
	lo         int    // loopback ifindex if it may be captured

	file   *os.File // the packet socket, registered with the runtime poller
	rc     syscall.RawConn
	closed atomic.Bool

	// mu is held by Next for its whole run, and by Close while it unmaps.
	mu        sync.Mutex
	ring      []byte
	blockSize int
	numBlocks int
	block     int  // current block index
	holding   bool // whether user space owns the current block
	left      int  // packets left in the current block
	off       int  // offset of the next packet in the current block
	scratch   []byte
	ready     func(fd uintptr) bool
	deadline  bool // whether a read deadline is set on file

	statsMu sync.Mutex
	kstats  Stats // kernel part, accumulated
	deliv   atomic.Uint64
	skipped atomic.Uint64

	ifMu   sync.Mutex
	nl     int // rtnetlink socket in the target namespace, -1 when closed
	nlSeq  uint32
	ifaces []Interface
}

// Open starts a capture in the network namespace ns (nil: the caller's own).
// The Handle owns its sockets and ring; call Close to release them.
func Open(ns *os.File, cfg Config) (_ *Handle, err error) {
	if cfg.SnapLen <= 0 {
		cfg.SnapLen = DefaultSnapLen
	}
	if cfg.BlockSize == 0 {
		cfg.BlockSize = DefaultBlockSize
	}
	if cfg.NumBlocks == 0 {
		cfg.NumBlocks = DefaultNumBlocks
	}
	if cfg.BlockTimeout == 0 {
		cfg.BlockTimeout = DefaultBlockTimeout
	}
	page := os.Getpagesize()
	if cfg.BlockSize < page || cfg.BlockSize%page != 0 || cfg.BlockSize > 1<<30 {
		return nil, fmt.Errorf("block size %d is not a multiple of the page size %d", cfg.BlockSize, page)
	}
	if cfg.NumBlocks < 1 || int64(cfg.NumBlocks)*int64(cfg.BlockSize) > 1<<34 {
		return nil, fmt.Errorf("ring of %d blocks of %d bytes: invalid block count", cfg.NumBlocks, cfg.BlockSize)
	}
	if cfg.BlockTimeout < time.Millisecond {
		return nil, fmt.Errorf("block timeout %v is below 1ms", cfg.BlockTimeout)
	}

	pfd, nl := -1, -1
	create := func() error {
		var err error
		// Protocol 0: nothing is received before bind, after the filter is on.
		pfd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
		if err != nil {
			return fmt.Errorf("creating packet socket: %w (does the agent have CAP_NET_RAW?)", err)
		}
		nl, err = newNetlinkSocket()
		return err
	}
	if ns != nil {
		err = netns.Do(ns, create)
	} else {
		err = create()
	}
	if err != nil {
		closeFD(pfd)
		closeFD(nl)
		return nil, err
	}

	h := &Handle{
		cfg:        cfg,
		snap:       uint32(cfg.SnapLen),
		kernelSnap: uint32(min(int64(cfg.SnapLen)+defaultKernelSlack, 1<<31)),
		nl:         nl,
		blockSize:  cfg.BlockSize,
		numBlocks:  cfg.NumBlocks,
		scratch:    make([]byte, 0, cfg.BlockSize+sll2HeaderLen+vlanTagLen),
	}
	h.ready = h.blockReady
	h.file = os.NewFile(uintptr(pfd), "afpacket")
	defer func() {
		if err != nil {
			h.Close()
		}
	}()
	if h.file == nil {
		closeFD(pfd)
		return nil, errors.New("wrapping packet socket")
	}
	if h.rc, err = h.file.SyscallConn(); err != nil {
		return nil, err
	}
	if err = h.file.SetReadDeadline(time.Time{}); err != nil {
		return nil, fmt.Errorf("registering packet socket with the poller: %w", err)
	}

	if err = h.refreshLinks(); err != nil {
		return nil, err
	}
	bindIndex, err := h.chooseInterfaces(cfg.Interfaces)
	if err != nil {
		return nil, err
	}

	err = h.control(func(fd int) error {
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
			return fmt.Errorf("selecting TPACKET_V3: %w", err)
		}
		req := unix.TpacketReq3{
			Block_size:     uint32(cfg.BlockSize),
			Block_nr:       uint32(cfg.NumBlocks),
			Frame_size:     uint32(cfg.BlockSize),
			Frame_nr:       uint32(cfg.NumBlocks),
			Retire_blk_tov: uint32(cfg.BlockTimeout / time.Millisecond),
		}
		if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
			return fmt.Errorf("creating %d×%d byte receive ring: %w", cfg.NumBlocks, cfg.BlockSize, err)
		}
		ring, err := unix.Mmap(fd, 0, cfg.BlockSize*cfg.NumBlocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_LOCKED|unix.MAP_POPULATE)
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.ENOMEM) {
			// MAP_LOCKED needs CAP_IPC_LOCK or room under RLIMIT_MEMLOCK.
			ring, err = unix.Mmap(fd, 0, cfg.BlockSize*cfg.NumBlocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
		}
		if err != nil {
			return fmt.Errorf("mapping receive ring: %w", err)
		}
		h.ring = ring

		prog, err := program(cfg.Filter, h.ifindexes, h.lo, h.kernelSnap)
		if err != nil {
			return err
		}
		if err := attachFilter(fd, prog); err != nil {
			return err
		}
		sa := unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: bindIndex}
		if err := unix.Bind(fd, &sa); err != nil {
			return fmt.Errorf("binding packet socket: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return h, nil
}

// chooseInterfaces resolves the configured names. It returns the ifindex to
// bind to (0: all) and sets h.ifindexes and h.lo for the filter prefix.
func (h *Handle) chooseInterfaces(names []string) (int, error) {
	ifaces := h.Interfaces()
	lo := 0
	for _, ifc := range ifaces {
		if ifc.HardwareType == unix.ARPHRD_LOOPBACK {
			lo = ifc.Index
		}
	}
	if len(names) == 0 {
		h.lo = lo
		return 0, nil
	}
	var idx []int
	for _, name := range names {
		i := slices.IndexFunc(ifaces, func(ifc Interface) bool { return ifc.Name == name })
		if i < 0 {
			have := make([]string, len(ifaces))
			for j, ifc := range ifaces {
				have[j] = ifc.Name
			}
			return 0, fmt.Errorf("interface %q: %w (the namespace has %s)", name, ErrNoSuchInterface, strings.Join(have, ", "))
		}
		if !slices.Contains(idx, ifaces[i].Index) {
			idx = append(idx, ifaces[i].Index)
		}
	}
	if slices.Contains(idx, lo) {
		h.lo = lo
	}
	if len(idx) == 1 {
		return idx[0], nil
	}
	h.ifindexes = idx
	return 0, nil
}

// Next returns the next packet, waiting for one if needed. It returns
// ctx.Err() when ctx is done (noticed within 100 ms) and ErrClosed after
// Close. The packet's Data is valid until the next call to Next or Close.
func (h *Handle) Next(ctx context.Context) (Packet, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for {
		if h.closed.Load() {
			return Packet{}, ErrClosed
		}
		if h.left > 0 {
			p, ok := h.parse()
			if ok {
				h.deliv.Add(1)
				return p, nil
			}
			h.skipped.Add(1)
			continue
		}
		if h.holding {
			h.release()
		}
		if h.blockReady(0) {
			h.take()
			continue
		}
		if err := ctx.Err(); err != nil {
			return Packet{}, err
		}
		if err := h.wait(ctx); err != nil {
			return Packet{}, err
		}
	}
}

// wait blocks until the current block may be ready, the wait slice passed
// (when ctx can be cancelled) or the handle is closed.
func (h *Handle) wait(ctx context.Context) error {
	if ctx.Done() != nil {
		d := time.Now().Add(waitSlice)
		if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
			d = cd
		}
		h.file.SetReadDeadline(d)
		h.deadline = true
	} else if h.deadline {
		h.file.SetReadDeadline(time.Time{})
		h.deadline = false
	}
	err := h.rc.Read(h.ready)
	switch {
	case err == nil, errors.Is(err, os.ErrDeadlineExceeded):
		return nil
	case h.closed.Load(), errors.Is(err, os.ErrClosed):
		return ErrClosed
	}
	return fmt.Errorf("waiting for packets: %w", err)
}

// Block descriptor (struct tpacket_block_desc with tpacket_hdr_v1) offsets.
const (
	bdBlockStatus = 8
	bdNumPkts     = 12
	bdFirstPkt    = 16
)

func (h *Handle) blockStatus() *uint32 {
	return (*uint32)(unsafe.Pointer(&h.ring[h.block*h.blockSize+bdBlockStatus]))
}

// blockReady reports whether user space may read the current block. It is
// the RawConn.Read callback, so it ignores fd.
func (h *Handle) blockReady(uintptr) bool {
	return atomic.LoadUint32(h.blockStatus())&unix.TP_STATUS_USER != 0
}

func (h *Handle) take() {
	base := h.block * h.blockSize
	h.holding = true
	h.left = int(*(*uint32)(unsafe.Pointer(&h.ring[base+bdNumPkts])))
	h.off = int(*(*uint32)(unsafe.Pointer(&h.ring[base+bdFirstPkt])))
}

// release hands the current block back to the kernel and moves to the next.
func (h *Handle) release() {
	atomic.StoreUint32(h.blockStatus(), unix.TP_STATUS_KERNEL)
	h.holding, h.left, h.off = false, 0, 0
	h.block++
	if h.block == h.numBlocks {
		h.block = 0
	}
	h.readKernelStats()
}

// Frame layout: struct tpacket3_hdr, then struct sockaddr_ll at
// TPACKET_ALIGN(sizeof(tpacket3_hdr)), then the packet at tp_mac.
const (
	tp3HdrLen = int(unsafe.Sizeof(unix.Tpacket3Hdr{}))
	sllOff    = (tp3HdrLen + unix.TPACKET_ALIGNMENT - 1) &^ (unix.TPACKET_ALIGNMENT - 1)
	sllLen    = int(unsafe.Sizeof(unix.RawSockaddrLinklayer{}))
)

// parse decodes the packet at h.off and advances to the next one. It returns
// false for a packet that must be skipped.
func (h *Handle) parse() (Packet, bool) {
	block := h.ring[h.block*h.blockSize : (h.block+1)*h.blockSize]
	off := h.off
	h.left--
	if off < 0 || off+sllOff+sllLen > len(block) {
		h.left = 0 // corrupt block: give it back
		return Packet{}, false
	}
	hdr := (*unix.Tpacket3Hdr)(unsafe.Pointer(&block[off]))
	if hdr.Next_offset != 0 {
		h.off = off + int(hdr.Next_offset)
	} else {
		h.left = 0
	}
	sll := (*unix.RawSockaddrLinklayer)(unsafe.Pointer(&block[off+sllOff]))

	mac, net := int(hdr.Mac), int(hdr.Net)
	capLen, wireLen := int(hdr.Snaplen), int(hdr.Len)
	if mac < sllOff+sllLen || off+mac+capLen > len(block) || net < mac {
		return Packet{}, false
	}
	data := block[off+mac : off+mac+capLen]
	linkLen := net - mac // bytes of link-layer header in data

	p := Packet{
		Timestamp: time.Unix(int64(hdr.Sec), int64(hdr.Nsec)),
		Ifindex:   int(sll.Ifindex),
		Direction: Direction(sll.Pkttype),
		Protocol:  ntohs(sll.Protocol),
	}
	vlan := hdr.Status&unix.TP_STATUS_VLAN_VALID != 0
	var tpid uint16 = unix.ETH_P_8021Q
	if vlan && hdr.Status&unix.TP_STATUS_VLAN_TPID_VALID != 0 && hdr.Hv1.Vlan_tpid != 0 {
		tpid = hdr.Hv1.Vlan_tpid
	}
	tci := uint16(hdr.Hv1.Vlan_tci)

	switch lt := linkTypeOf(sll.Hatype, h.cfg.Cooked); {
	case lt == LinkTypeEthernet && linkLen >= ethHeaderLen:
		p.LinkType = LinkTypeEthernet
		p.Length = wireLen
		if vlan {
			// Put the tag the device stripped back after the MAC addresses.
			s := h.scratch[:0]
			s = append(s, data[:12]...)
			s = append(s, byte(tpid>>8), byte(tpid), byte(tci>>8), byte(tci))
			s = append(s, data[12:]...)
			data = s
			p.Length += vlanTagLen
		}
	case lt == LinkTypeRaw || lt == LinkTypeEthernet && linkLen == 0 && !vlan:
		// A raw-IP device, or an Ethernet-typed one that gave no header.
		if p.Protocol != unix.ETH_P_IP && p.Protocol != unix.ETH_P_IPV6 {
			return Packet{}, false
		}
		p.LinkType = LinkTypeRaw
		data = data[min(linkLen, len(data)):]
		p.Length = wireLen - linkLen
	default:
		p.LinkType = LinkTypeLinuxSLL2
		payload := data[min(linkLen, len(data)):]
		proto := p.Protocol
		extra := 0
		if vlan {
			proto, extra = tpid, vlanTagLen
		}
		s := h.scratch[:sll2HeaderLen]
		s[0], s[1], s[2], s[3] = byte(proto>>8), byte(proto), 0, 0
		putBE32(s[4:], uint32(sll.Ifindex))
		s[8], s[9] = byte(sll.Hatype>>8), byte(sll.Hatype)
		s[10] = sll.Pkttype
		s[11] = min(sll.Halen, 8)
		copy(s[12:20], sll.Addr[:])
		if vlan {
			s = append(s, byte(tci>>8), byte(tci), byte(p.Protocol>>8), byte(p.Protocol))
		}
		data = append(s, payload...)
		p.Length = sll2HeaderLen + extra + wireLen - linkLen
	}
	if len(data) > int(h.snap) {
		data = data[:h.snap]
	}
	p.Data = data
	p.CaptureLength = len(data)
	return p, true
}

// readKernelStats adds the kernel's counters (which reset when read) to the
// running totals.
func (h *Handle) readKernelStats() {
	if h.rc == nil {
		return
	}
	var st *unix.TpacketStatsV3
	err := h.control(func(fd int) error {
		var err error
		st, err = unix.GetsockoptTpacketStatsV3(fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
		return err
	})
	if err != nil {
		return
	}
	h.statsMu.Lock()
	h.kstats.Packets += uint64(st.Packets)
	h.kstats.KernelDrops += uint64(st.Drops)
	h.kstats.FreezeQueue += uint64(st.Freeze_q_cnt)
	h.statsMu.Unlock()
}

// Stats returns the counters since Open, reading the kernel's first.
func (h *Handle) Stats() Stats {
	if !h.closed.Load() {
		h.readKernelStats()
	}
	h.statsMu.Lock()
	s := h.kstats
	h.statsMu.Unlock()
	s.Delivered = h.deliv.Load()
	s.Skipped = h.skipped.Load()
	return s
}

// SetFilter replaces the BPF filter (nil: accept all). Packets already in the
// ring were accepted by the previous filter and are still returned.
func (h *Handle) SetFilter(filter []unix.SockFilter) error {
	prog, err := program(filter, h.ifindexes, h.lo, h.kernelSnap)
	if err != nil {
		return err
	}
	return h.control(func(fd int) error { return attachFilter(fd, prog) })
}

// Interfaces returns the interfaces of the namespace, as last listed (at Open,
// and whenever Interface met an unknown index), sorted by index.
func (h *Handle) Interfaces() []Interface {
	h.ifMu.Lock()
	defer h.ifMu.Unlock()
	return slices.Clone(h.ifaces)
}

// Interface returns the interface with the given index, listing the
// namespace's interfaces again if the index is not known yet.
func (h *Handle) Interface(index int) (Interface, bool) {
	find := func() (Interface, bool) {
		h.ifMu.Lock()
		defer h.ifMu.Unlock()
		i, ok := slices.BinarySearchFunc(h.ifaces, index, func(ifc Interface, idx int) int { return ifc.Index - idx })
		if !ok {
			return Interface{}, false
		}
		return h.ifaces[i], true
	}
	if ifc, ok := find(); ok {
		return ifc, true
	}
	if h.refreshLinks() != nil {
		return Interface{}, false
	}
	return find()
}

// refreshLinks lists the namespace's interfaces again.
func (h *Handle) refreshLinks() error {
	h.ifMu.Lock()
	defer h.ifMu.Unlock()
	if h.nl < 0 {
		return ErrClosed
	}
	h.nlSeq++
	links, err := dumpLinks(h.nl, h.nlSeq, h.cfg.Cooked)
	if err != nil {
		return fmt.Errorf("listing interfaces: %w", err)
	}
	h.ifaces = links
	return nil
}

// control runs fn with the packet socket's descriptor.
func (h *Handle) control(fn func(fd int) error) error {
	var ferr error
	if err := h.rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// Close stops the capture and releases the socket and ring. It is safe to call
// more than once and concurrently with Next, which it wakes.
func (h *Handle) Close() error {
	if h.closed.Swap(true) {
		return nil
	}
	var err error
	if h.file != nil {
		h.readKernelStats()
		err = h.file.Close() // wakes a waiting Next
	}
	h.mu.Lock()
	if h.ring != nil {
		err = errors.Join(err, unix.Munmap(h.ring))
		h.ring = nil
	}
	h.mu.Unlock()
	h.ifMu.Lock()
	closeFD(h.nl)
	h.nl = -1
	h.ifMu.Unlock()
	return err
}

func closeFD(fd int) {
	if fd >= 0 {
		unix.Close(fd)
	}
}

// htons converts between host and network byte order (it is also ntohs).
func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}

func ntohs(v uint16) uint16 { return htons(v) }

func putBE32(b []byte, v uint32) {
	_ = b[3]
	b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}
