// Package capfilter compiles tcpdump filter expressions ("tcp port 80 and host
// 10.0.0.1") into classic BPF and runs them.
//
// Compilation goes through libpcap (cgo, pcap_compile on a pcap_open_dead handle), so the
// syntax and the meaning of every expression are exactly tcpdump's. The compiled program
// is then run by a small classic-BPF interpreter in pure Go (Filter.Match): it has the
// semantics of libpcap's bpf_filter, costs no cgo call per packet, and is safe for
// concurrent use. Filter.Instructions gives the same program in the kernel's
// struct sock_filter layout, for SO_ATTACH_FILTER on an AF_PACKET socket.
//
// A program depends on the link type it was compiled for, so callers compile one Filter
// per link type (per capture interface). Programs compiled here never use Linux BPF
// extensions (negative SKF_AD_* offsets): on a SOCK_DGRAM (cooked) packet socket the
// kernel runs the filter on the network-layer packet, so such a socket needs a program
// compiled for a raw-IP link type, or libpcap's offset rewriting.
//
// Builds without cgo (or for a platform without libpcap) cannot compile expressions:
// Compile returns ErrNoCompiler, while FromInstructions and Match still work for programs
// compiled elsewhere.
package capfilter
