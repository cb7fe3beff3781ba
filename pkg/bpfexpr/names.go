package bpfexpr

// Protocol qualifiers (libpcap's Q_ protocol values).
const (
	qDefault = iota
	qLink
	qIP
	qARP
	qRARP
	qSCTP
	qTCP
	qUDP
	qICMP
	qIGMP
	qIGRP
	qATALK
	qDECNET
	qLAT
	qSCA
	qMOPRC
	qMOPDL
	qIPV6
	qICMPV6
	qAH
	qESP
	qPIM
	qVRRP
	qAARP
	qISO
	qESIS
	qISIS
	qCLNP
	qSTP
	qIPX
	qNETBEUI
	qISISL1
	qISISL2
	qISISIIH
	qISISSNP
	qISISCSNP
	qISISPSNP
	qISISLSP
	qRADIO
	qCARP
	qUndef
)

// Direction qualifiers.
const (
	dDefault = iota
	dSrc
	dDst
	dOr
	dAnd
	dAddr1
	dAddr2
	dAddr3
	dAddr4
	dRA
	dTA
	dUndef
)

// Address-type qualifiers.
const (
	aDefault = iota
	aHost
	aNet
	aPort
	aGateway
	aProto
	aProtochain
	aPortrange
	aUndef
)

// qual is the set of qualifiers in force for an identifier.
type qual struct {
	proto, dir, addr int
}

// qerr is the qualifier of a primitive that does not lend its qualifiers
// to an identifier that follows it (libpcap's qerr).
var qerr = qual{qUndef, dUndef, aUndef}

// protoNames is the keyword spelling of each protocol qualifier, for
// error messages.
var protoNames = map[int]string{
	qLink: "link", qIP: "ip", qARP: "arp", qRARP: "rarp", qSCTP: "sctp",
	qTCP: "tcp", qUDP: "udp", qICMP: "icmp", qIGMP: "igmp", qIGRP: "igrp",
	qATALK: "atalk", qDECNET: "decnet", qLAT: "lat", qSCA: "sca",
	qMOPRC: "moprc", qMOPDL: "mopdl", qIPV6: "ip6", qICMPV6: "icmp6",
	qAH: "ah", qESP: "esp", qPIM: "pim", qVRRP: "vrrp", qAARP: "aarp",
	qISO: "iso", qESIS: "esis", qISIS: "isis", qCLNP: "clnp", qSTP: "stp",
	qIPX: "ipx", qNETBEUI: "netbeui", qISISL1: "l1", qISISL2: "l2",
	qISISIIH: "iih", qISISSNP: "snp", qISISCSNP: "csnp", qISISPSNP: "psnp",
	qISISLSP: "lsp", qRADIO: "radio", qCARP: "carp",
}

// Ethernet types and LLC SAPs used by the code generator.
const (
	etherTypeIP       = 0x0800
	etherTypeARP      = 0x0806
	etherTypeREVARP   = 0x8035
	etherTypeIPv6     = 0x86dd
	etherTypeDN       = 0x6003
	etherTypeLAT      = 0x6004
	etherTypeSCA      = 0x6007
	etherTypeMOPDL    = 0x6001
	etherTypeMOPRC    = 0x6002
	etherTypeATALK    = 0x809b
	etherTypeAARP     = 0x80f3
	etherTypeIPX      = 0x8137
	etherType8021Q    = 0x8100
	etherType8021AD   = 0x88a8
	etherType8021QinQ = 0x9100
	etherTypeLoopback = 0x9000
	etherMTU          = 1500

	llcSAPIP      = 0x06
	llcSAPISONS   = 0xfe
	llcSAPNetBEUI = 0xf0
	llcSAPIPX     = 0xe0
	llcSAP8021D   = 0x42
	llcSAPSNAP    = 0xaa

	linuxSLLP8023 = 0x0001 // Linux cooked "protocol" of Novell 802.3 frames
	linuxSLLP8022 = 0x0004 // Linux cooked "protocol" of 802.2 frames
	linuxSLLOut   = 4      // packet type "outgoing"
)

// IP protocol numbers.
const (
	ipprotoICMP     = 1
	ipprotoIGMP     = 2
	ipprotoTCP      = 6
	ipprotoIGRP     = 9
	ipprotoUDP      = 17
	ipprotoFragment = 44
	ipprotoESP      = 50
	ipprotoAH       = 51
	ipprotoICMPv6   = 58
	ipprotoPIM      = 103
	ipprotoVRRP     = 112
	ipprotoSCTP     = 132
	protoUndef      = -1
)

// ipProtocols is /etc/protocols of Debian's netbase 6.4 (names and
// aliases), which libpcap consults through getprotobyname(3) for
// "proto \name". Built in so that a program does not depend on the
// machine that compiles it.
var ipProtocols = map[string]int{
	"ip": 0, "IP": 0, "hopopt": 0, "HOPOPT": 0, "icmp": 1, "ICMP": 1,
	"igmp": 2, "IGMP": 2, "ggp": 3, "GGP": 3, "ipencap": 4, "IP-ENCAP": 4,
	"st": 5, "ST": 5, "tcp": 6, "TCP": 6, "egp": 8, "EGP": 8, "igp": 9,
	"IGP": 9, "pup": 12, "PUP": 12, "udp": 17, "UDP": 17, "hmp": 20,
	"HMP": 20, "xns-idp": 22, "XNS-IDP": 22, "rdp": 27, "RDP": 27,
	"iso-tp4": 29, "ISO-TP4": 29, "dccp": 33, "DCCP": 33, "xtp": 36,
	"XTP": 36, "ddp": 37, "DDP": 37, "idpr-cmtp": 38, "IDPR-CMTP": 38,
	"ipv6": 41, "IPv6": 41, "ipv6-route": 43, "IPv6-Route": 43,
	"ipv6-frag": 44, "IPv6-Frag": 44, "idrp": 45, "IDRP": 45, "rsvp": 46,
	"RSVP": 46, "gre": 47, "GRE": 47, "esp": 50, "IPSEC-ESP": 50, "ah": 51,
	"IPSEC-AH": 51, "skip": 57, "SKIP": 57, "ipv6-icmp": 58,
	"IPv6-ICMP": 58, "ipv6-nonxt": 59, "IPv6-NoNxt": 59, "ipv6-opts": 60,
	"IPv6-Opts": 60, "rspf": 73, "RSPF": 73, "CPHB": 73, "vmtp": 81,
	"VMTP": 81, "eigrp": 88, "EIGRP": 88, "ospf": 89, "OSPFIGP": 89,
	"ax.25": 93, "AX.25": 93, "ipip": 94, "IPIP": 94, "etherip": 97,
	"ETHERIP": 97, "encap": 98, "ENCAP": 98, "pim": 103, "PIM": 103,
	"ipcomp": 108, "IPCOMP": 108, "vrrp": 112, "VRRP": 112, "l2tp": 115,
	"L2TP": 115, "isis": 124, "ISIS": 124, "sctp": 132, "SCTP": 132,
	"fc": 133, "FC": 133, "mobility-header": 135, "Mobility-Header": 135,
	"udplite": 136, "UDPLite": 136, "mpls-in-ip": 137, "MPLS-in-IP": 137,
	"manet": 138, "hip": 139, "HIP": 139, "shim6": 140, "Shim6": 140,
	"wesp": 141, "WESP": 141, "rohc": 142, "ROHC": 142, "ethernet": 143,
	"Ethernet": 143, "mptcp": 262, "MPTCP": 262,
}

// service is a port name with the transports /etc/services lists it for.
type service struct {
	port     int
	tcp, udp bool
}

// services is the part of Debian netbase 6.4's /etc/services that people
// write in filters. libpcap looks a name up for TCP and UDP: a name known
// for one transport only matches that transport ("port http" is TCP only).
var services = map[string]service{
	"ftp-data": {20, true, false}, "ftp": {21, true, false},
	"ssh": {22, true, false}, "telnet": {23, true, false},
	"smtp": {25, true, false}, "mail": {25, true, false},
	"time": {37, true, true}, "whois": {43, true, false}, "nicname": {43, true, false},
	"tacacs": {49, true, true}, "domain": {53, true, true},
	"bootps": {67, false, true}, "bootpc": {68, false, true},
	"tftp": {69, false, true}, "gopher": {70, true, false},
	"finger": {79, true, false}, "http": {80, true, false}, "www": {80, true, false},
	"kerberos": {88, true, true}, "kerberos5": {88, true, true},
	"krb5": {88, true, true}, "kerberos-sec": {88, true, true},
	"pop3": {110, true, false}, "pop-3": {110, true, false},
	"sunrpc": {111, true, true}, "portmapper": {111, true, true},
	"auth": {113, true, false}, "nntp": {119, true, false},
	"ntp": {123, false, true}, "epmap": {135, true, false},
	"netbios-ns": {137, false, true}, "netbios-dgm": {138, false, true},
	"netbios-ssn": {139, true, false}, "imap2": {143, true, false},
	"imap": {143, true, false}, "snmp": {161, true, true},
	"snmp-trap": {162, true, true}, "snmptrap": {162, true, true},
	"bgp": {179, true, false}, "irc": {194, true, false},
	"ldap": {389, true, true}, "https": {443, true, true},
	"microsoft-ds": {445, true, false}, "kpasswd": {464, true, false},
	"isakmp": {500, false, true}, "syslog": {514, false, true},
	"printer": {515, true, false}, "spooler": {515, true, false},
	"submission": {587, true, false}, "ldaps": {636, true, true},
	"domain-s": {853, true, true}, "rsync": {873, true, false},
	"ftps": {990, true, false}, "imaps": {993, true, false},
	"pop3s": {995, true, false}, "socks": {1080, true, false},
	"openvpn": {1194, true, true}, "ms-sql-s": {1433, true, false},
	"l2f": {1701, false, true}, "l2tp": {1701, false, true},
	"radius": {1812, true, true}, "radius-acct": {1813, true, true},
	"nfs": {2049, true, true}, "mysql": {3306, true, false},
	"ms-wbt-server": {3389, true, false}, "sip": {5060, true, true},
	"sip-tls": {5061, true, true}, "xmpp-client": {5222, true, false},
	"mdns": {5353, false, true}, "postgresql": {5432, true, false},
	"postgres": {5432, true, false}, "amqp": {5672, true, false},
	"x11": {6000, true, false}, "http-alt": {8080, true, false},
	"webcache": {8080, true, false},
}

// etherProtos is libpcap's built-in table of "ether proto \name" values
// (pcap_nametoeproto, then pcap_nametollc).
var etherProtos = map[string]uint32{
	"aarp": etherTypeAARP, "arp": etherTypeARP, "atalk": etherTypeATALK,
	"decnet": etherTypeDN, "ip": etherTypeIP, "ip6": etherTypeIPv6,
	"lat": etherTypeLAT, "loopback": etherTypeLoopback, "mopdl": etherTypeMOPDL,
	"moprc": etherTypeMOPRC, "rarp": etherTypeREVARP, "sca": etherTypeSCA,
	"iso": llcSAPISONS, "stp": llcSAP8021D, "ipx": llcSAPIPX, "netbeui": llcSAPNetBEUI,
}
