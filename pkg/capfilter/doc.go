// Package capfilter compiles tcpdump filter expressions ("tcp port 80 and host
// 198.18.0.1") into classic BPF and runs them.
//
// Compilation goes first through package bpfexpr, a pure-Go compiler that follows
// libpcap's grammar and code generation, so every build (the plugin built with
// CGO_ENABLED=0 for any OS, the static sniffer) compiles filters with tcpdump's
// meaning and errors show the expression with a caret. The few valid expressions
// bpfexpr does not support (protochain, mpls, ...) fall back to libpcap itself
// (cgo, pcap_compile on a pcap_open_dead handle) in builds that link it. libpcap is
// also the tests' oracle: on real captures, the programs of both compilers select
// exactly the packets `tcpdump -r FILE EXPR` selects.
//
// Why not only libpcap: Debian's libpcap.a pulls in dbus and systemd, which have no
// static libraries, so a static sniffer (and a portable kubectl plugin) cannot link it.
// No maintained pure-Go implementation of the filter language exists.
//
// The compiled program runs in a small classic-BPF interpreter in pure Go
// (Filter.Match), with the semantics of libpcap's bpf_filter, no cgo call per packet,
// and safe for concurrent use. Filter.Instructions gives the same program in the
// kernel's struct sock_filter layout, for SO_ATTACH_FILTER on an AF_PACKET socket.
//
// A program depends on the link type it was compiled for, so callers compile one Filter
// per link type (per capture interface). Programs never use Linux BPF extensions
// (negative SKF_AD_* offsets): on a SOCK_DGRAM (cooked) packet socket the kernel runs
// the filter on the network-layer packet, so such a socket needs a program compiled for
// a raw-IP link type. "vlan" primitives match tags in the packet data, as in a file; a
// live socket sees tags the kernel moved to metadata only in user space.
package capfilter
