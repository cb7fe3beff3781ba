// Package bpfexpr compiles tcpdump/libpcap filter expressions
// (pcap-filter(7)) to classic BPF in pure Go, with tcpdump's meaning.
//
// The package owns three things:
//
//   - the language: a lexer and parser that follow libpcap 1.10's scanner
//     and grammar, including its quirks ("and" and "or" share one
//     precedence and group left to right; "%" and "^" bind as bison
//     resolves their conflicts; an identifier without a keyword inherits
//     the qualifiers of the previous primitive, as in
//     "host 10.0.0.1 or 10.0.0.2" and "tcp port 80 or 443");
//   - the meaning: code generation that mirrors libpcap's gencode.c per
//     link type (Ethernet, Linux SLL and SLL2, raw IP, BSD null and
//     OpenBSD loop), so that a packet is kept exactly when tcpdump would
//     keep it, down to which loads run first on a truncated packet;
//   - the machine: a classic BPF program ready for SO_ATTACH_FILTER, and
//     an allocation-free interpreter (Program.Match) that runs the same
//     program in Go.
//
// # Supported
//
// host, net (prefix, "mask" and short forms such as "net 10"), port,
// portrange, with src, dst, "src or dst", "src and dst"; IPv4 and IPv6
// addresses ("host" on IPv4 also matches ARP and RARP); ports of TCP,
// UDP and SCTP over IPv4 (first fragment only) and IPv6; the protocols
// ether, ip, ip6, arp, rarp, tcp, udp, sctp, icmp, icmp6, igmp, igrp,
// pim, vrrp, carp, ah, esp, and the Ethernet/LLC ones (stp, ipx,
// netbeui, iso, decnet, lat, sca, mopdl, moprc, atalk, aarp, llc);
// "ether host/src/dst MAC", "ether proto N|\name", "ip proto",
// "ip6 proto" (also behind a fragment header), "proto \tcp";
// broadcast and multicast (ether, ip, ip6); len, less, greater, byte
// with = < >; packet data "proto[expr:size]" for link, ip, ip6, arp,
// rarp, tcp, udp, sctp, icmp, icmp6, igmp... with + - * / % & | ^ << >>
// and unary minus; the relations > < >= <= = == !=; the named constants
// (tcpflags, tcp-syn, icmptype, icmp-echo, icmp6type, icmp6-echo...);
// and, or, not, &&, ||, !, parentheses; "vlan [id]" on Ethernet, which
// moves the offsets of every later primitive past the tag as libpcap
// does; inbound, outbound (Linux cooked captures) and ifindex (SLL2).
//
// # Not supported
//
// Rejected with an error wrapping ErrUnsupported: protochain, mpls,
// pppoed, pppoes, geneve, "llc i|s|u|...", "byte N & M" and "byte N | M",
// the IS-IS/ES-IS/CLNP family, DECnet addresses, 802.11, ATM, SS7 and pf
// primitives, inbound/outbound on link types without a direction field.
// Names are never resolved: host, network and ether host names are
// rejected ("host names are not resolved: use an address"), and so is
// "gateway". Service and protocol names ("port http", "proto \udp") come
// from built-in copies of Debian netbase's tables, so a program does not
// depend on the files of the machine that compiles it.
//
// # Differences from a live tcpdump
//
// The meaning is that of "tcpdump -r": "ip broadcast" knows no netmask
// (it matches 0.0.0.0 and 255.255.255.255); BSD null headers hold the
// address family in little-endian order; "vlan" reads tags in the packet
// data, while on a live Linux socket the kernel usually moves the
// outermost tag into metadata (libpcap then uses SKF_AD_VLAN_TAG; this
// package does not).
package bpfexpr
