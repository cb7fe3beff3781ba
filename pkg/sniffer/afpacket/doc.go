// Package afpacket captures packets from a network namespace with an AF_PACKET
// socket and a TPACKET_V3 memory-mapped receive ring (DESIGN.md decisions 3–6).
//
// # Opening
//
// Open creates the socket (and a rtnetlink socket used to name interfaces) on a
// locked thread inside the target namespace through netns.Do, then configures
// it from the calling thread: both sockets stay bound to the target namespace
// for their whole life, and nothing else of the agent enters it.
//
// Before the socket is bound, its BPF program is attached, so no packet that
// the filter rejects ever reaches the ring. The attached program is the user's
// classic BPF program (Config.Filter, as produced by `tcpdump -dd` or
// pkg/capfilter) behind a short prefix that
//
//   - rejects outgoing packets on the loopback device, which the kernel shows
//     again as incoming (as libpcap does, so lo traffic is seen once);
//   - accepts only the chosen interfaces when Config.Interfaces names more than
//     one (a single interface is a plain bind);
//   - resets A and X to 0, as the kernel does for a program of its own.
//
// Accepting returns of the user's program are clamped to the snap length, so
// the kernel copies no more than is kept.
//
// The user's program sees each packet as this SOCK_RAW socket does, from its
// link-layer header on, whatever Config.Cooked says: an Ethernet header on
// Ethernet, veth and loopback devices, the IP header on raw-IP devices
// (ARPHRD_NONE: tun, WireGuard). A program compiled for Ethernet (as
// `tcpdump -dd` or pkg/capfilter do by default) is therefore only right on
// Ethernet-framed interfaces, which is every interface of a typical pod. To
// filter a namespace that also has raw-IP devices, compile for LINKTYPE_RAW
// and make the loads relative to the network header (SKF_NET_OFF), or choose
// the interfaces.
//
// # Ring
//
// The ring is NumBlocks blocks of BlockSize bytes (defaults: 32 × 256 KiB =
// 8 MiB; libpcap's default is 2 MiB). The kernel fills one block at a time
// and hands it to user space when it is full or BlockTimeout (default 100 ms)
// after it was opened, so packets at low rates still arrive promptly. Many
// smaller blocks rather than a few large ones: at low rates every timeout
// retires a mostly empty block, so the block count bounds how long a reader
// may stall before the kernel drops (32 × 100 ms). A block must hold the
// largest packet (GSO super-packets on veth are up to 64 KiB); a larger one is
// truncated by the kernel. When every block is held by user space the kernel
// drops packets and counts them (Stats).
//
// # Link types
//
// Each packet carries the link type of its interface, in pcap LINKTYPE_ values:
// Ethernet (ARPHRD_ETHER, and ARPHRD_LOOPBACK, whose header is an all-zero
// Ethernet header), raw IP (ARPHRD_NONE such as WireGuard or tun, IP-in-IP,
// SIT, ip6tnl and ARPHRD_RAWIP), and Linux "cooked" SLL2 for every other
// device, synthesized from the packet's sockaddr_ll in front of its network
// header. Config.Cooked synthesizes SLL2 for every packet, as `tcpdump -i any`
// writes. VLAN tags that the device moved into packet metadata are put back
// into the data, as libpcap does.
//
// # Ownership and concurrency
//
// A Handle owns its sockets and ring; Close releases them. Next must not be
// called concurrently with itself: it is meant for one capture goroutine.
// Close, Stats, SetFilter, Interfaces and Interface are safe to call from any
// goroutine at any time; Close wakes a blocked Next, which returns ErrClosed.
//
// The Data of a Packet points into the ring (or into a buffer of the Handle)
// and is valid only until the next call to Next or Close: copy it to keep it.
// In steady state Next does not allocate.
package afpacket
