// Package ebpfcap captures packets from a network namespace with eBPF programs
// on the interfaces' TC hooks (bpf/src/capture.c), the `--backend ebpf` of the
// sniffer. Its Handle has the shape of package afpacket's and returns the same
// Packet, Interface and Stats types, so the agent reads either backend through
// one interface, and both return the same packets (the tests compare them
// byte for byte on real traffic).
//
// # Programs and hooks
//
// Open loads the capture collection with the Config's settings (snap length,
// ring size, wake-up mark, one scratch record per possible CPU) and attaches
// its programs inside the target namespace (through netns.Do) to every chosen
// interface: the ingress hook, and the egress hook except on the loopback
// device, whose every packet also enters it (so lo traffic is seen once, as
// incoming, as AF_PACKET and libpcap show it). Where the kernel has TCX (Linux
// 6.6+) the programs are TCX links, ingress at the head of the chain and
// egress at its tail; the kernel detaches them by itself if the process dies.
// Elsewhere (or with Config.ForceLegacyTC) they are direct-action bpf filters
// on a clsact qdisc, added through rtnetlink ahead of other filters; the qdisc
// is created only if absent and removed on Close only if Open created it and
// no one else's filters remain on it. Mode tells which was used. The
// programs return TC_ACT_UNSPEC (TCX_NEXT): the packet goes on untouched.
//
// With no Config.Interfaces, every interface of the namespace is captured,
// including ones created later: a rtnetlink link-event subscription (made
// before the first listing, so nothing is missed) triggers a new listing and
// attachment; interfaces that disappear are forgotten. A failure to attach to
// a new interface is reported by Err.
//
// Loading never relies on RLIMIT_MEMLOCK: kernels with BPF ring buffers
// account BPF memory to the memory cgroup. Errors name what is missing and
// wrap ErrPermission, ErrNotSupported or ErrRejected (with the end of the
// verifier's log).
//
// # Filter
//
// Config.Filter (a tcpdump expression compiled by pkg/capfilter) runs in the
// kernel: the classic BPF program is translated to eBPF (translate) in a small
// entry program per direction that tail-calls the capture program when the
// filter accepts the packet, so rejected packets never take ring space. Loads
// use bpf_skb_load_bytes, so they see the whole packet (non-linear skbs too),
// as the kernel's socket filters do for AF_PACKET; the semantics are
// capfilter.Match's (libpcap's), which the tests check on real captures
// through BPF_PROG_TEST_RUN. If the kernel refuses the translated program, the
// filter runs in user space in Next instead (KernelFilter reports which).
//
// As with AF_PACKET, the filter sees packets from their link-layer header: an
// Ethernet header on Ethernet, veth and loopback devices, the IP header on
// raw-IP devices (ARPHRD_NONE: tun, WireGuard), so a program compiled for
// Ethernet is right on the interfaces of a typical pod.
//
// # Ring and records
//
// Each packet's first min(SnapLen, MaxKernelSnap) bytes and a header are
// written to a BPF ring buffer of RingSize bytes. Records do not wake the
// reader, except when the unread bytes cross WakeupBytes; Next otherwise looks
// at the ring every PollInterval (a few milliseconds), so a busy capture costs
// no wake-up per packet. Packets the ring has no room for are counted per CPU
// and reported as Stats.KernelDrops.
//
// Timestamps are the kernel's CLOCK_MONOTONIC at the hook, converted to the
// wall clock with an offset measured at Open and again every second.
//
// Link types are those of package afpacket: TC shows packets from the
// link-layer header on Ethernet and loopback devices (LINKTYPE_ETHERNET) and
// from the network header on devices without one (LINKTYPE_RAW for raw-IP
// devices, LINUX_SLL2 built from the packet's metadata for the others). A VLAN
// tag that the device moved into the skb's metadata is put back into the data,
// as libpcap does. Packets that AF_PACKET does not show either are skipped:
// multicast looped back to the host (PACKET_LOOPBACK), and non-IP packets on
// raw-IP devices. Unlike AF_PACKET, packets sent by packet sockets that bypass
// the qdisc layer (PACKET_QDISC_BYPASS) are not seen on egress.
//
// # Ownership and concurrency
//
// A Handle owns its programs, maps, links, filters, sockets and ring; Close
// releases them, and Open cleans up after itself on error. Next must not be
// called concurrently with itself: it is meant for one capture goroutine.
// Close, Stats, Interfaces, Interface, Mode and Err are safe to call from any
// goroutine at any time; Close wakes a blocked Next, which returns ErrClosed.
//
// The Data of a Packet points into a buffer of the Handle and is valid only
// until the next call to Next or Close: copy it to keep it. In steady state
// Next does not allocate.
package ebpfcap
