package afpacket

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Classic BPF ancillary loads (linux/filter.h); not in x/sys/unix.
const (
	skfAdOff     = -0x1000
	skfAdPktType = 4
	skfAdIfindex = 8

	bpfMaxInsns = 4096 // BPF_MAXINSNS
	bpfRetK     = unix.BPF_RET | unix.BPF_K
)

// program builds the socket filter: the prefix described in the package doc,
// then user (with accepting returns clamped to snap), or accept-all.
//
// ifindexes restricts capture to those interfaces (nil: all); lo is the
// loopback's ifindex when loopback traffic can be captured (0: none).
func program(user []unix.SockFilter, ifindexes []int, lo int, snap uint32) ([]unix.SockFilter, error) {
	var p []unix.SockFilter
	ins := func(code uint16, jt, jf uint8, k uint32) {
		p = append(p, unix.SockFilter{Code: code, Jt: jt, Jf: jf, K: k})
	}
	var ad int32 = skfAdOff
	adIfindex := uint32(ad + skfAdIfindex)
	adPktType := uint32(ad + skfAdPktType)

	if len(ifindexes) > 0 || lo > 0 {
		ins(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, 0, 0, adIfindex)
	}
	if len(ifindexes) > 0 {
		if len(ifindexes) > 250 {
			return nil, fmt.Errorf("building filter: %d interfaces, at most 250 can be chosen", len(ifindexes))
		}
		// jeq #idx_i → past the "ret #0" (to the loopback check or the user
		// program); else → next comparison, the last one falls to "ret #0".
		for i, idx := range ifindexes {
			ins(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, uint8(len(ifindexes)-i), 0, uint32(idx))
		}
		ins(bpfRetK, 0, 0, 0)
	}
	if lo > 0 {
		// A = ifindex. if A != lo → user; else if pkttype == OUTGOING → drop.
		ins(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, 0, 3, uint32(lo))
		ins(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, 0, 0, adPktType)
		ins(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, 0, 1, unix.PACKET_OUTGOING)
		ins(bpfRetK, 0, 0, 0)
	}
	if len(p) > 0 {
		ins(unix.BPF_LD|unix.BPF_IMM, 0, 0, 0)  // A = 0
		ins(unix.BPF_LDX|unix.BPF_IMM, 0, 0, 0) // X = 0
	}
	if len(user) == 0 {
		ins(bpfRetK, 0, 0, snap)
	}
	for _, in := range user {
		if in.Code == bpfRetK && in.K > snap {
			in.K = snap
		}
		p = append(p, in)
	}
	if len(p) > bpfMaxInsns {
		return nil, fmt.Errorf("building filter: %d instructions, the kernel takes at most %d", len(p), bpfMaxInsns)
	}
	return p, nil
}

// attachFilter replaces the socket's filter with prog.
func attachFilter(fd int, prog []unix.SockFilter) error {
	fp := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fp); err != nil {
		return fmt.Errorf("attaching BPF filter: %w", err)
	}
	return nil
}
