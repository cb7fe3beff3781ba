package bpfexpr

import (
	"fmt"
	"net/netip"
	"strconv"
)

// Classic BPF opcodes (linux/filter.h, net/bpf.h).
const (
	opLD   = 0x00
	opLDX  = 0x01
	opST   = 0x02
	opSTX  = 0x03
	opALU  = 0x04
	opJMP  = 0x05
	opRET  = 0x06
	opMISC = 0x07

	szW = 0x00
	szH = 0x08
	szB = 0x10

	mIMM = 0x00
	mABS = 0x20
	mIND = 0x40
	mMEM = 0x60
	mLEN = 0x80
	mMSH = 0xa0

	aluADD = 0x00
	aluSUB = 0x10
	aluMUL = 0x20
	aluDIV = 0x30
	aluOR  = 0x40
	aluAND = 0x50
	aluLSH = 0x60
	aluRSH = 0x70
	aluNEG = 0x80
	aluMOD = 0x90
	aluXOR = 0xa0

	jJA   = 0x00
	jJEQ  = 0x10
	jJGT  = 0x20
	jJGE  = 0x30
	jJSET = 0x40

	srcK = 0x00
	srcX = 0x08

	retK = 0x00

	miscTAX = 0x00
	miscTXA = 0x80

	memWords = 16 // BPF_MEMWORDS
)

// stmt is a non-jump instruction.
type stmt struct {
	op uint16
	k  uint32
}

// bexpr is a boolean expression over tests, the intermediate form between
// the syntax tree and the instruction list. Its operands are evaluated
// left to right with short circuit, as libpcap's gen_and/gen_or chain
// blocks: a load that runs off the end of the packet rejects the packet
// wherever it happens, so the order is part of the meaning.
type bexpr interface{}

// bTest runs stmts, then a conditional jump: true if "A jop k" (or
// "A jop X" when jop has srcX).
type bTest struct {
	stmts []stmt
	jop   uint16
	k     uint32
}

type bAnd struct{ l, r bexpr }
type bOr struct{ l, r bexpr }
type bNot struct{ x bexpr }
type bConst bool

// bAndOf and bOrOf fold constants the way libpcap's optimizer does: a
// test whose outcome cannot change the result is dropped.
func bAndOf(l, r bexpr) bexpr {
	if l == nil {
		return r
	}
	if r == nil {
		return l
	}
	if c, ok := l.(bConst); ok {
		if !c {
			return bConst(false)
		}
		return r
	}
	if c, ok := r.(bConst); ok {
		if !c {
			return bConst(false)
		}
		return l
	}
	return bAnd{l, r}
}

func bOrOf(l, r bexpr) bexpr {
	if c, ok := l.(bConst); ok {
		if c {
			return bConst(true)
		}
		return r
	}
	if c, ok := r.(bConst); ok {
		if c {
			return bConst(true)
		}
		return l
	}
	return bOr{l, r}
}

func bNotOf(x bexpr) bexpr {
	switch x := x.(type) {
	case bConst:
		return !x
	case bNot:
		return x.x
	}
	return bNot{x}
}

// Offsets are relative to one of these (libpcap's e_offrel).
type offrel int

const (
	orPacket offrel = iota
	orLinkHdr
	orLLC
	orLinkPL
	orLinkPLNoSnap
	orLinkType
	orTranIPv4
	orTranIPv6
)

// gen generates bexpr from the syntax tree with libpcap's semantics. Its
// offsets change as "vlan" primitives are generated, like libpcap's
// compiler state.
type gen struct {
	expr string
	lt   LinkType
	pos  int // position of the primitive being generated, for errors

	linkhdr     uint32
	linktype    uint32
	hasLinktype bool
	linkpl      uint32
	nl          uint32
	nlNoSnap    uint32
}

// genError is the panic value of a semantic error.
type genError struct{ err *SyntaxError }

func (g *gen) fail(format string, args ...any) {
	panic(genError{&SyntaxError{Expr: g.expr, Pos: g.pos, Msg: fmt.Sprintf(format, args...)}})
}

func (g *gen) unsupported(what string) { g.unsupportedHint(what, "") }

func (g *gen) unsupportedHint(what, hint string) {
	msg := what + " is not supported yet"
	if hint != "" {
		msg += " (" + hint + ")"
	}
	panic(genError{&SyntaxError{Expr: g.expr, Pos: g.pos, Msg: msg, unsupported: true}})
}

func newGen(expr string, lt LinkType) (*gen, error) {
	g := &gen{expr: expr, lt: lt, hasLinktype: true}
	switch lt {
	case LinkTypeEthernet:
		g.linktype, g.linkpl, g.nl, g.nlNoSnap = 12, 14, 0, 3
	case LinkTypeNull, LinkTypeLoop:
		g.linktype, g.linkpl = 0, 4
	case LinkTypeRaw, LinkTypeIPv4, LinkTypeIPv6:
		g.hasLinktype, g.linkpl = false, 0
	case LinkTypeLinuxSLL:
		g.linktype, g.linkpl = 14, 16
	case LinkTypeLinuxSLL2:
		g.linktype, g.linkpl = 0, 20
	default:
		return nil, fmt.Errorf("link type %d: %w", uint16(lt), ErrUnsupported)
	}
	return g, nil
}

// --- loads and comparisons ---------------------------------------------

func sizeCode(size uint32) uint16 {
	switch size {
	case 1:
		return szB
	case 2:
		return szH
	}
	return szW
}

func (g *gen) loadA(rel offrel, off uint32, size uint16) []stmt {
	abs := func(base uint32) []stmt {
		return []stmt{{opLD | mABS | size, base + off}}
	}
	switch rel {
	case orPacket:
		return abs(0)
	case orLinkHdr:
		return abs(g.linkhdr)
	case orLLC:
		return abs(g.linkpl)
	case orLinkPL:
		return abs(g.linkpl + g.nl)
	case orLinkPLNoSnap:
		return abs(g.linkpl + g.nlNoSnap)
	case orLinkType:
		return abs(g.linktype)
	case orTranIPv4:
		return []stmt{
			{opLDX | mMSH | szB, g.linkpl + g.nl},
			{opLD | mIND | size, g.linkpl + g.nl + off},
		}
	case orTranIPv6:
		return abs(g.linkpl + g.nl + 40)
	}
	panic("bpfexpr: unknown offrel")
}

func (g *gen) ncmp(rel offrel, off uint32, size uint16, mask uint32, jtype uint16, reverse bool, v uint32) bexpr {
	s := g.loadA(rel, off, size)
	if mask != 0xffffffff {
		s = append(s, stmt{opALU | aluAND | srcK, mask})
	}
	var b bexpr = mkTest(s, opJMP|jtype|srcK, v)
	if reverse && (jtype == jJGT || jtype == jJGE) {
		b = bNotOf(b)
	}
	return b
}

// mkTest makes a test, turning "and #m; jeq #0" into "not jset #m" as
// libpcap's optimizer does.
func mkTest(s []stmt, jop uint16, k uint32) bexpr {
	if n := len(s); jop == opJMP|jJEQ|srcK && k == 0 && n > 1 && s[n-1].op == opALU|aluAND|srcK {
		return bNot{bTest{stmts: s[:n-1], jop: opJMP | jJSET | srcK, k: s[n-1].k}}
	}
	return bTest{stmts: s, jop: jop, k: k}
}

func (g *gen) cmp(rel offrel, off uint32, size uint16, v uint32) bexpr {
	return g.ncmp(rel, off, size, 0xffffffff, jJEQ, false, v)
}
func (g *gen) cmpGT(rel offrel, off uint32, size uint16, v uint32) bexpr {
	return g.ncmp(rel, off, size, 0xffffffff, jJGT, false, v)
}
func (g *gen) cmpGE(rel offrel, off uint32, size uint16, v uint32) bexpr {
	return g.ncmp(rel, off, size, 0xffffffff, jJGE, false, v)
}
func (g *gen) cmpLT(rel offrel, off uint32, size uint16, v uint32) bexpr {
	return g.ncmp(rel, off, size, 0xffffffff, jJGE, true, v)
}
func (g *gen) cmpLE(rel offrel, off uint32, size uint16, v uint32) bexpr {
	return g.ncmp(rel, off, size, 0xffffffff, jJGT, true, v)
}
func (g *gen) mcmp(rel offrel, off uint32, size uint16, v, mask uint32) bexpr {
	if mask == 0 {
		// "/0" prefixes: libpcap's optimizer drops the test.
		return bConst(v == 0)
	}
	return g.ncmp(rel, off, size, mask, jJEQ, false, v)
}

// bcmp compares bytes, last word first, as gen_bcmp does.
func (g *gen) bcmp(rel offrel, off uint32, v []byte) bexpr {
	var b bexpr
	size := uint32(len(v))
	for size >= 4 {
		p := v[size-4:]
		w := uint32(p[0])<<24 | uint32(p[1])<<16 | uint32(p[2])<<8 | uint32(p[3])
		b = bAndOf(b, g.cmp(rel, off+size-4, szW, w))
		size -= 4
	}
	for size >= 2 {
		p := v[size-2:]
		b = bAndOf(b, g.cmp(rel, off+size-2, szH, uint32(p[0])<<8|uint32(p[1])))
		size -= 2
	}
	if size > 0 {
		b = bAndOf(b, g.cmp(rel, off, szB, uint32(v[0])))
	}
	return b
}

func (g *gen) jset(rel offrel, off uint32, size uint16, bits uint32) bexpr {
	return bTest{stmts: g.loadA(rel, off, size), jop: opJMP | jJSET | srcK, k: bits}
}

// --- link-layer types ----------------------------------------------------

// linktype generates a test for a link-layer protocol: an Ethernet type
// if > 1500, an 802.2 LLC SAP otherwise (gen_linktype).
func (g *gen) linkType(ll uint32) bexpr {
	switch g.lt {
	case LinkTypeEthernet:
		return g.etherLinkType(ll)
	case LinkTypeLinuxSLL:
		return g.sllLinkType(ll)
	case LinkTypeLinuxSLL2:
		return g.cmp(orLinkType, 0, szH, ll)
	case LinkTypeRaw:
		switch ll {
		case etherTypeIP:
			return g.mcmp(orLinkHdr, 0, szB, 0x40, 0xf0)
		case etherTypeIPv6:
			return g.mcmp(orLinkHdr, 0, szB, 0x60, 0xf0)
		}
		return bConst(false)
	case LinkTypeIPv4:
		return bConst(ll == etherTypeIP)
	case LinkTypeIPv6:
		return bConst(ll == etherTypeIPv6)
	case LinkTypeNull, LinkTypeLoop:
		switch ll {
		case etherTypeIP:
			return g.loopbackLinkType(2)
		case etherTypeIPv6:
			// AF_INET6 of the BSDs (24), FreeBSD (28) and Darwin (30),
			// as libpcap checks when reading a capture file.
			return bOrOf(g.loopbackLinkType(30), bOrOf(g.loopbackLinkType(24), g.loopbackLinkType(28)))
		}
		return bConst(false)
	}
	panic("bpfexpr: unknown link type")
}

// loopbackLinkType compares the 4-byte address family of a null/loop
// header. DLT_NULL has it in the byte order of the capturing host, which
// is taken to be little-endian (x86, arm64); DLT_LOOP in network order.
func (g *gen) loopbackLinkType(af uint32) bexpr {
	if g.lt == LinkTypeNull {
		af = af<<24 | af>>24 | (af>>8)&0xff00 | (af<<8)&0xff0000
	}
	return g.cmp(orLinkHdr, 0, szW, af)
}

func (g *gen) snap(orgcode, ptype uint32) bexpr {
	return g.bcmp(orLLC, 0, []byte{llcSAPSNAP, llcSAPSNAP, 0x03,
		byte(orgcode >> 16), byte(orgcode >> 8), byte(orgcode),
		byte(ptype >> 8), byte(ptype)})
}

func (g *gen) is8023() bexpr {
	return bNotOf(g.cmpGT(orLinkType, 0, szH, etherMTU))
}

func (g *gen) etherLinkType(ll uint32) bexpr {
	switch ll {
	case llcSAPISONS, llcSAPIP, llcSAPNetBEUI:
		return bAndOf(g.is8023(), g.cmp(orLLC, 0, szH, ll<<8|ll))
	case llcSAPIPX:
		b := bOrOf(g.cmp(orLLC, 0, szB, llcSAPIPX), g.cmp(orLLC, 0, szH, 0xffff))
		b = bOrOf(g.snap(0, etherTypeIPX), b)
		b = bAndOf(g.is8023(), b)
		return bOrOf(g.cmp(orLinkType, 0, szH, etherTypeIPX), b)
	case etherTypeATALK, etherTypeAARP:
		var s bexpr
		if ll == etherTypeATALK {
			s = g.snap(0x080007, etherTypeATALK)
		} else {
			s = g.snap(0, etherTypeAARP)
		}
		b := bAndOf(g.is8023(), s)
		return bOrOf(g.cmp(orLinkType, 0, szH, ll), b)
	}
	if ll <= etherMTU {
		return bAndOf(g.is8023(), g.cmp(orLinkType, 2, szB, ll))
	}
	return g.cmp(orLinkType, 0, szH, ll)
}

func (g *gen) sllLinkType(ll uint32) bexpr {
	switch ll {
	case llcSAPISONS, llcSAPIP, llcSAPNetBEUI:
		return bAndOf(g.cmp(orLinkType, 0, szH, linuxSLLP8022), g.cmp(orLLC, 0, szH, ll<<8|ll))
	case llcSAPIPX:
		b := bOrOf(g.cmp(orLLC, 0, szB, llcSAPIPX), g.snap(0, etherTypeIPX))
		b = bAndOf(g.cmp(orLinkType, 0, szH, linuxSLLP8022), b)
		b = bOrOf(g.cmp(orLinkType, 0, szH, linuxSLLP8023), b)
		return bOrOf(g.cmp(orLinkType, 0, szH, etherTypeIPX), b)
	case etherTypeATALK, etherTypeAARP:
		var s bexpr
		if ll == etherTypeATALK {
			s = g.snap(0x080007, etherTypeATALK)
		} else {
			s = g.snap(0, etherTypeAARP)
		}
		b := bAndOf(g.cmp(orLinkType, 0, szH, linuxSLLP8022), s)
		return bOrOf(g.cmp(orLinkType, 0, szH, ll), b)
	}
	if ll <= etherMTU {
		return bAndOf(g.cmp(orLinkType, 0, szH, linuxSLLP8022), g.cmp(orLinkHdr, g.linkpl, szB, ll))
	}
	return g.cmp(orLinkType, 0, szH, ll)
}

func (lt LinkType) description() string {
	switch lt {
	case LinkTypeEthernet:
		return "Ethernet"
	case LinkTypeNull:
		return "BSD loopback"
	case LinkTypeLoop:
		return "OpenBSD loopback"
	case LinkTypeRaw:
		return "Raw IP"
	case LinkTypeLinuxSLL:
		return "Linux cooked v1"
	case LinkTypeLinuxSLL2:
		return "Linux cooked v2"
	case LinkTypeIPv4:
		return "Raw IPv4"
	case LinkTypeIPv6:
		return "Raw IPv6"
	}
	return "DLT " + strconv.Itoa(int(lt))
}

// --- hosts and networks --------------------------------------------------

func (g *gen) wlanDirError(dir int, what string) {
	switch dir {
	case dAddr1, dAddr2, dAddr3, dAddr4:
		n := dir - dAddr1 + 1
		g.fail("'addr%d' and 'address%d' are not valid qualifiers for %s", n, n, what)
	case dRA:
		g.fail("'ra' is not a valid qualifier for %s", what)
	case dTA:
		g.fail("'ta' is not a valid qualifier for %s", what)
	}
	panic("bpfexpr: unexpected direction")
}

func (g *gen) hostop(addr, mask uint32, dir int, ll uint32, srcOff, dstOff uint32) bexpr {
	var off uint32
	switch dir {
	case dSrc:
		off = srcOff
	case dDst:
		off = dstOff
	case dAnd:
		return bAndOf(g.hostop(addr, mask, dSrc, ll, srcOff, dstOff), g.hostop(addr, mask, dDst, ll, srcOff, dstOff))
	case dDefault, dOr:
		return bOrOf(g.hostop(addr, mask, dSrc, ll, srcOff, dstOff), g.hostop(addr, mask, dDst, ll, srcOff, dstOff))
	default:
		g.wlanDirError(dir, "addresses other than 802.11 MAC addresses")
	}
	return bAndOf(g.linkType(ll), g.mcmp(orLinkPL, off, szW, addr, mask))
}

func (g *gen) hostop6(addr, mask [16]byte, dir int, srcOff, dstOff uint32) bexpr {
	var off uint32
	switch dir {
	case dSrc:
		off = srcOff
	case dDst:
		off = dstOff
	case dAnd:
		return bAndOf(g.hostop6(addr, mask, dSrc, srcOff, dstOff), g.hostop6(addr, mask, dDst, srcOff, dstOff))
	case dDefault, dOr:
		return bOrOf(g.hostop6(addr, mask, dSrc, srcOff, dstOff), g.hostop6(addr, mask, dDst, srcOff, dstOff))
	default:
		g.wlanDirError(dir, "addresses other than 802.11 MAC addresses")
	}
	word := func(b [16]byte, i int) uint32 {
		return uint32(b[i])<<24 | uint32(b[i+1])<<16 | uint32(b[i+2])<<8 | uint32(b[i+3])
	}
	b := g.linkType(etherTypeIPv6)
	for i := 0; i < 16; i += 4 {
		b = bAndOf(b, g.mcmp(orLinkPL, off+uint32(i), szW, word(addr, i), word(mask, i)))
	}
	return b
}

func (g *gen) host(addr, mask uint32, proto, dir, typ int) bexpr {
	typestr := "host"
	if typ == aNet {
		typestr = "net"
	}
	switch proto {
	case qDefault:
		b := bOrOf(g.host(addr, mask, qIP, dir, typ), g.host(addr, mask, qARP, dir, typ))
		return bOrOf(b, g.host(addr, mask, qRARP, dir, typ))
	case qLink:
		g.fail("link-layer modifier applied to %s", typestr)
	case qIP:
		return g.hostop(addr, mask, dir, etherTypeIP, 12, 16)
	case qRARP:
		return g.hostop(addr, mask, dir, etherTypeREVARP, 14, 24)
	case qARP:
		return g.hostop(addr, mask, dir, etherTypeARP, 14, 24)
	case qATALK:
		g.fail("AppleTalk host filtering not implemented")
	case qDECNET:
		g.unsupported("'decnet host'")
	case qLAT, qSCA, qMOPRC, qMOPDL, qAARP, qISO, qIPX:
		g.fail("%s host filtering not implemented", map[int]string{qLAT: "LAT", qSCA: "SCA",
			qMOPRC: "MOPRC", qMOPDL: "MOPDL", qAARP: "AARP", qISO: "ISO", qIPX: "IPX"}[proto])
	case qIPV6:
		g.fail("'ip6' modifier applied to ip host")
	}
	g.fail("'%s' modifier applied to %s", protoNames[proto], typestr)
	return nil
}

func (g *gen) host6(addr, mask [16]byte, proto, dir, typ int) bexpr {
	typestr := "host"
	if typ == aNet {
		typestr = "net"
	}
	switch proto {
	case qDefault, qIPV6:
		return g.hostop6(addr, mask, dir, 8, 24)
	case qLink:
		g.fail("link-layer modifier applied to ip6 %s", typestr)
	case qATALK:
		g.fail("AppleTalk modifier applied to ip6 %s", typestr)
	}
	g.fail("'%s' modifier applied to ip6 %s", protoNames[proto], typestr)
	return nil
}

// atoin converts a dotted IPv4 address or prefix ("10", "10.1", "10.1.2",
// "10.1.2.3") like libpcap's __pcap_atoin: decimal parts up to 255; it
// returns the value and its length in bits.
func atoin(s string) (uint32, int, bool) {
	var addr uint32
	bits := 0
	for _, part := range splitDots(s) {
		if part == "" || len(part) > 10 {
			return 0, 0, false
		}
		n := 0
		for _, c := range part {
			if c < '0' || c > '9' || n > 25 {
				return 0, 0, false
			}
			n = n*10 + int(c-'0')
		}
		if n > 255 {
			return 0, 0, false
		}
		addr = addr<<8 | uint32(n)
		bits += 8
	}
	if bits > 32 {
		return 0, 0, false
	}
	return addr, bits, true
}

func splitDots(s string) []string {
	var parts []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// --- ports -----------------------------------------------------------------

func (g *gen) ipfrag() bexpr {
	return bNotOf(g.jset(orLinkPL, 6, szH, 0x1fff))
}

func (g *gen) portDir(dir int, what string, atom func(off uint32) bexpr) bexpr {
	switch dir {
	case dSrc:
		return atom(0)
	case dDst:
		return atom(2)
	case dAnd:
		return bAndOf(atom(0), atom(2))
	case dDefault, dOr:
		return bOrOf(atom(0), atom(2))
	}
	g.wlanDirError(dir, what)
	return nil
}

func (g *gen) portop(port, proto uint32, dir int) bexpr {
	b0 := bAndOf(g.cmp(orLinkPL, 9, szB, proto), g.ipfrag())
	b1 := g.portDir(dir, "ports", func(off uint32) bexpr { return g.cmp(orTranIPv4, off, szH, port) })
	return bAndOf(b0, b1)
}

func (g *gen) portop6(port, proto uint32, dir int) bexpr {
	b0 := g.cmp(orLinkPL, 6, szB, proto)
	b1 := g.portDir(dir, "ports", func(off uint32) bexpr { return g.cmp(orTranIPv6, off, szH, port) })
	return bAndOf(b0, b1)
}

func (g *gen) portrangeop(lo, hi, proto uint32, dir int, v6 bool) bexpr {
	if lo > hi {
		lo, hi = hi, lo
	}
	rel := orTranIPv4
	var b0 bexpr
	if v6 {
		rel = orTranIPv6
		b0 = g.cmp(orLinkPL, 6, szB, proto)
	} else {
		b0 = bAndOf(g.cmp(orLinkPL, 9, szB, proto), g.ipfrag())
	}
	b1 := g.portDir(dir, "port ranges", func(off uint32) bexpr {
		return bAndOf(g.cmpGE(rel, off, szH, lo), g.cmpLE(rel, off, szH, hi))
	})
	return bAndOf(b0, b1)
}

// ports generates "port" or "portrange" for IPv6 then IPv4, for one
// transport or (ipProto == protoUndef) for SCTP, TCP and UDP.
func (g *gen) ports(lo, hi uint32, ipProto int, dir int, isRange bool) bexpr {
	one := func(proto uint32, v6 bool) bexpr {
		if isRange {
			return g.portrangeop(lo, hi, proto, dir, v6)
		}
		if v6 {
			return g.portop6(lo, proto, dir)
		}
		return g.portop(lo, proto, dir)
	}
	family := func(v6 bool) bexpr {
		var b bexpr
		if ipProto == protoUndef {
			b = bOrOf(one(ipprotoTCP, v6), one(ipprotoUDP, v6))
			b = bOrOf(one(ipprotoSCTP, v6), b)
		} else {
			b = one(uint32(ipProto), v6)
		}
		ll := uint32(etherTypeIP)
		if v6 {
			ll = etherTypeIPv6
		}
		return bAndOf(g.linkType(ll), b)
	}
	v4 := family(false)
	return bOrOf(family(true), v4)
}

// portQualProto maps the protocol qualifier of "port"/"portrange" to an IP
// protocol.
func (g *gen) portQualProto(proto int, what string) int {
	switch proto {
	case qUDP:
		return ipprotoUDP
	case qTCP:
		return ipprotoTCP
	case qSCTP:
		return ipprotoSCTP
	case qDefault:
		return protoUndef
	}
	g.fail("illegal qualifier of '%s'", what)
	return 0
}

// lookupPort resolves a service name or a decimal number like libpcap's
// pcap_nametoport with Debian's /etc/services.
func lookupPort(name string) (port, proto int, ok bool) {
	if n, err := strconv.Atoi(name); err == nil && n >= 0 {
		return n, protoUndef, true
	}
	s, ok := services[name]
	if !ok {
		return 0, 0, false
	}
	switch {
	case s.tcp && s.udp:
		return s.port, protoUndef, true
	case s.tcp:
		return s.port, ipprotoTCP, true
	}
	return s.port, ipprotoUDP, true
}

// checkPortProto reconciles the qualifier with the transport of a
// service name.
func (g *gen) checkPortProto(qproto, real int, name, what string) int {
	switch qproto {
	case qUDP:
		switch real {
		case ipprotoTCP:
			g.fail("%s '%s' is tcp", what, name)
		case ipprotoSCTP:
			g.fail("%s '%s' is sctp", what, name)
		}
		return ipprotoUDP
	case qTCP:
		switch real {
		case ipprotoUDP:
			g.fail("%s '%s' is udp", what, name)
		case ipprotoSCTP:
			g.fail("%s '%s' is sctp", what, name)
		}
		return ipprotoTCP
	case qSCTP:
		switch real {
		case ipprotoUDP:
			g.fail("%s '%s' is udp", what, name)
		case ipprotoTCP:
			g.fail("%s '%s' is tcp", what, name)
		}
		return ipprotoSCTP
	}
	return real
}

func (g *gen) checkPortNumber(n int) {
	if n < 0 {
		g.fail("illegal port number %d < 0", n)
	}
	if n > 65535 {
		g.fail("illegal port number %d > 65535", n)
	}
}

// scanRange reads "%d-%d" like sscanf: it needs two integers separated by
// '-' at the start of s and ignores what follows.
func scanRange(s string) (int, int, bool) {
	num := func(s string) (int, string, bool) {
		i := 0
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			i++
		}
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i {
			return 0, s, false
		}
		n, err := strconv.Atoi(s[:j])
		if err != nil {
			n = 1 << 31 // out of range: rejected as a port later
		}
		return n, s[j:], true
	}
	a, rest, ok := num(s)
	if !ok || len(rest) == 0 || rest[0] != '-' {
		return 0, 0, false
	}
	b, _, ok := num(rest[1:])
	if !ok {
		return 0, 0, false
	}
	return a, b, true
}

// --- protocols -----------------------------------------------------------

func (g *gen) proto(v uint32, proto, dir int) bexpr {
	if dir != dDefault {
		g.fail("direction applied to 'proto'")
	}
	switch proto {
	case qDefault:
		return bOrOf(g.proto(v, qIP, dir), g.proto(v, qIPV6, dir))
	case qLink:
		return g.linkType(v)
	case qIP:
		return bAndOf(g.linkType(etherTypeIP), g.cmp(orLinkPL, 9, szB, v))
	case qIPV6:
		b0 := g.linkType(etherTypeIPv6)
		b1 := bAndOf(g.cmp(orLinkPL, 6, szB, ipprotoFragment), g.cmp(orLinkPL, 40, szB, v))
		b1 = bOrOf(g.cmp(orLinkPL, 6, szB, v), b1)
		return bAndOf(b0, b1)
	case qARP, qRARP:
		g.fail("%s does not encapsulate another protocol", protoNames[proto])
	case qATALK:
		g.fail("AppleTalk encapsulation is not specifiable")
	case qDECNET:
		g.fail("DECNET encapsulation is not specifiable")
	case qLAT, qSCA, qMOPRC, qMOPDL:
		g.fail("%s does not encapsulate another protocol",
			map[int]string{qLAT: "LAT", qSCA: "SCA", qMOPRC: "MOPRC", qMOPDL: "MOPDL"}[proto])
	case qCLNP:
		g.fail("'clnp proto' is not supported")
	case qISO, qISIS:
		g.unsupported(fmt.Sprintf("'%s proto'", protoNames[proto]))
	}
	g.fail("'%s proto' is bogus", protoNames[proto])
	return nil
}

func (g *gen) protoAbbrev(proto int) bexpr {
	both := func(p uint32) bexpr {
		return g.proto(p, qDefault, dDefault) // IPv4, then IPv6
	}
	switch proto {
	case qSCTP:
		return both(ipprotoSCTP)
	case qTCP:
		return both(ipprotoTCP)
	case qUDP:
		return both(ipprotoUDP)
	case qICMP:
		return g.proto(ipprotoICMP, qIP, dDefault)
	case qIGMP:
		return g.proto(ipprotoIGMP, qIP, dDefault)
	case qIGRP:
		return g.proto(ipprotoIGRP, qIP, dDefault)
	case qPIM:
		return both(ipprotoPIM)
	case qVRRP, qCARP:
		return g.proto(ipprotoVRRP, qIP, dDefault)
	case qIP:
		return g.linkType(etherTypeIP)
	case qARP:
		return g.linkType(etherTypeARP)
	case qRARP:
		return g.linkType(etherTypeREVARP)
	case qLink:
		g.fail("link layer applied in wrong context")
	case qATALK:
		return g.linkType(etherTypeATALK)
	case qAARP:
		return g.linkType(etherTypeAARP)
	case qDECNET:
		return g.linkType(etherTypeDN)
	case qSCA:
		return g.linkType(etherTypeSCA)
	case qLAT:
		return g.linkType(etherTypeLAT)
	case qMOPDL:
		return g.linkType(etherTypeMOPDL)
	case qMOPRC:
		return g.linkType(etherTypeMOPRC)
	case qIPV6:
		return g.linkType(etherTypeIPv6)
	case qICMPV6:
		return g.proto(ipprotoICMPv6, qIPV6, dDefault)
	case qAH:
		return both(ipprotoAH)
	case qESP:
		return both(ipprotoESP)
	case qISO:
		return g.linkType(llcSAPISONS)
	case qSTP:
		return g.linkType(llcSAP8021D)
	case qIPX:
		return g.linkType(llcSAPIPX)
	case qNETBEUI:
		return g.linkType(llcSAPNetBEUI)
	case qRADIO:
		g.fail("'radio' is not a valid protocol type")
	}
	g.unsupported(fmt.Sprintf("'%s'", protoNames[proto]))
	return nil
}

func (g *gen) lookupProto(name string, proto int) uint32 {
	switch proto {
	case qDefault, qIP, qIPV6:
		v, ok := ipProtocols[name]
		if !ok {
			g.fail("unknown ip proto '%s'", name)
		}
		return uint32(v)
	case qLink:
		v, ok := etherProtos[name]
		if !ok {
			g.fail("unknown ether proto '%s'", name)
		}
		return v
	case qISO:
		g.unsupported("'iso proto'")
	}
	g.fail("unknown protocol: %s", name)
	return 0
}

// --- identifiers -----------------------------------------------------------

func (g *gen) noQualifier(what string) {
	g.fail("%s needs a qualifier such as 'host', 'net' or 'port' (nothing before it to inherit one from)", what)
}

// scode generates a name with its qualifiers (gen_scode).
func (g *gen) scode(name string, q qual) bexpr {
	switch q.addr {
	case aNet:
		g.fail("network names are not resolved: use an address or a prefix such as 10.0.0.0/8")
	case aDefault, aHost:
		switch q.proto {
		case qLink:
			g.fail("ether host names are not resolved: use a MAC address")
		case qDECNET:
			g.unsupported("'decnet host'")
		}
		g.fail("host names are not resolved: use an address (%q)", name)
	case aPort:
		qp := g.portQualProto(q.proto, "port")
		port, real, ok := lookupPort(name)
		if !ok {
			g.fail("unknown port '%s'", name)
		}
		if qp != protoUndef || real != protoUndef {
			real = g.checkPortProto(q.proto, real, name, "port")
		}
		g.checkPortNumber(port)
		return g.ports(uint32(port), uint32(port), real, q.dir, false)
	case aPortrange:
		g.portQualProto(q.proto, "portrange")
		p1, p2, real := 0, 0, protoUndef
		if a, b, ok := scanRange(name); ok {
			p1, p2 = a, b
		} else {
			i := indexByte(name, '-')
			if i < 0 {
				g.fail("unknown port in range '%s'", name)
			}
			var r1, r2 int
			var ok1, ok2 bool
			p1, r1, ok1 = lookupPort(name[:i])
			p2, r2, ok2 = lookupPort(name[i+1:])
			if !ok1 || !ok2 {
				g.fail("unknown port in range '%s'", name)
			}
			real = r2
			if r1 != r2 {
				real = protoUndef
			}
		}
		real = g.checkPortProto(q.proto, real, name, "port in range")
		g.checkPortNumber(p1)
		g.checkPortNumber(p2)
		return g.ports(uint32(p1), uint32(p2), real, q.dir, true)
	case aGateway:
		g.fail("'gateway' is not supported: it needs host name resolution")
	case aProto:
		return g.proto(g.lookupProto(name, q.proto), q.proto, q.dir)
	case aProtochain:
		g.unsupported("'protochain'")
	}
	g.noQualifier(fmt.Sprintf("%q", name))
	return nil
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// ncode generates a number or dotted address (gen_ncode); s is "" for a
// plain number v.
func (g *gen) ncode(s string, v uint32, q qual) bexpr {
	vlen := 32
	if s != "" {
		if q.proto == qDECNET {
			g.unsupported("'decnet host'")
		}
		var ok bool
		v, vlen, ok = atoin(s)
		if !ok {
			g.fail("invalid IPv4 address '%s'", s)
		}
	}
	switch q.addr {
	case aDefault, aHost, aNet:
		switch q.proto {
		case qDECNET:
			g.unsupported("'decnet host'")
		case qLink:
			g.fail("illegal link layer address")
		}
		mask := uint32(0xffffffff)
		if s == "" && q.addr == aNet {
			for v != 0 && v&0xff000000 == 0 {
				v <<= 8
				mask <<= 8
			}
		} else {
			v <<= 32 - vlen
			mask <<= 32 - vlen
		}
		return g.host(v, mask, q.proto, q.dir, q.addr)
	case aPort, aPortrange:
		what := "port"
		if q.addr == aPortrange {
			what = "portrange"
		}
		proto := g.portQualProto(q.proto, what)
		if v > 65535 {
			g.fail("illegal port number %d > 65535", v)
		}
		return g.ports(v, v, proto, q.dir, q.addr == aPortrange)
	case aGateway:
		g.fail("'gateway' requires a name")
	case aProto:
		return g.proto(v, q.proto, q.dir)
	case aProtochain:
		g.unsupported("'protochain'")
	}
	if s == "" {
		s = strconv.FormatUint(uint64(v), 10)
	}
	g.noQualifier(s)
	return nil
}

// mcode generates "net A/len" and "net A mask M" (gen_mcode).
func (g *gen) mcode(s1, s2 string, masklen uint32, q qual) bexpr {
	n, nlen, ok := atoin(s1)
	if !ok {
		g.fail("invalid IPv4 address '%s'", s1)
	}
	n <<= 32 - nlen
	var m uint32
	if s2 != "" {
		mv, mlen, ok := atoin(s2)
		if !ok {
			g.fail("invalid IPv4 address '%s'", s2)
		}
		m = mv << (32 - mlen)
		if n&^m != 0 {
			g.fail("non-network bits set in \"%s mask %s\"", s1, s2)
		}
	} else {
		if masklen > 32 {
			g.fail("mask length must be <= 32")
		}
		if masklen != 0 {
			m = 0xffffffff << (32 - masklen)
		}
		if n&^m != 0 {
			g.fail("non-network bits set in \"%s/%d\"", s1, masklen)
		}
	}
	if q.addr != aNet {
		g.fail("Mask syntax for networks only")
	}
	return g.host(n, m, q.proto, q.dir, q.addr)
}

// mcode6 generates an IPv6 address or prefix (gen_mcode6).
func (g *gen) mcode6(s string, masklen uint32, q qual) bexpr {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() {
		g.fail("invalid ip6 address %s", s)
	}
	if masklen > 128 {
		g.fail("mask length must be <= 128")
	}
	addr := a.As16()
	var mask [16]byte
	for i := uint32(0); i < masklen/8; i++ {
		mask[i] = 0xff
	}
	if masklen%8 != 0 {
		mask[masklen/8] = byte(0xff << (8 - masklen%8))
	}
	for i := range addr {
		if addr[i]&^mask[i] != 0 {
			g.fail("non-network bits set in \"%s/%d\"", s, masklen)
		}
	}
	switch q.addr {
	case aDefault, aHost:
		if masklen != 128 {
			g.fail("Mask syntax for networks only")
		}
		return g.host6(addr, mask, q.proto, q.dir, q.addr)
	case aNet:
		return g.host6(addr, mask, q.proto, q.dir, q.addr)
	}
	g.fail("invalid qualifier against IPv6 address")
	return nil
}

// etherAton converts a MAC address in any of the scanner's forms, like
// pcap_ether_aton: pairs of hex digits, separators ':', '.', '-' skipped.
func etherAton(s string) []byte {
	xd := func(c byte) byte {
		switch {
		case c >= '0' && c <= '9':
			return c - '0'
		case c >= 'a' && c <= 'f':
			return c - 'a' + 10
		}
		return c - 'A' + 10
	}
	isx := func(c byte) bool {
		return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
	}
	var e []byte
	for i := 0; i < len(s); {
		if s[i] == ':' || s[i] == '.' || s[i] == '-' {
			i++
		}
		d := xd(s[i])
		i++
		if i < len(s) && isx(s[i]) {
			d = d<<4 | xd(s[i])
			i++
		}
		e = append(e, d)
	}
	return e
}

func (g *gen) ehostop(mac []byte, dir int) bexpr {
	switch dir {
	case dSrc:
		return g.bcmp(orLinkHdr, 6, mac)
	case dDst:
		return g.bcmp(orLinkHdr, 0, mac)
	case dAnd:
		return bAndOf(g.ehostop(mac, dSrc), g.ehostop(mac, dDst))
	case dDefault, dOr:
		return bOrOf(g.ehostop(mac, dSrc), g.ehostop(mac, dDst))
	case dAddr1, dAddr2, dAddr3, dAddr4:
		n := dir - dAddr1 + 1
		g.fail("'addr%d' and 'address%d' are only supported on 802.11 with 802.11 headers", n, n)
	case dRA:
		g.fail("'ra' is only supported on 802.11 with 802.11 headers")
	case dTA:
		g.fail("'ta' is only supported on 802.11 with 802.11 headers")
	}
	panic("bpfexpr: unexpected direction")
}

func (g *gen) ecode(s string, q qual) bexpr {
	if (q.addr == aHost || q.addr == aDefault) && q.proto == qLink {
		if g.lt != LinkTypeEthernet {
			g.fail("ethernet addresses supported only on ethernet/FDDI/token ring/802.11/ATM LANE/Fibre Channel")
		}
		return g.ehostop(etherAton(s), q.dir)
	}
	g.fail("ethernet address used in non-ether expression")
	return nil
}

func (g *gen) id(n idNode) bexpr {
	q := n.q
	addrCheck := func(what string) {
		switch q.addr {
		case aPort:
			g.fail("'port' modifier applied to %s", what)
		case aPortrange:
			g.fail("'portrange' modifier applied to %s", what)
		case aProto:
			g.fail("'proto' modifier applied to %s", what)
		case aProtochain:
			g.fail("'protochain' modifier applied to %s", what)
		}
	}
	switch n.tok.kind {
	case tID:
		return g.scode(n.tok.text, q)
	case tNUM:
		return g.ncode("", n.tok.num, q)
	case tHID:
		switch {
		case n.plen != nil:
			return g.mcode(n.tok.text, "", n.plen.num, q)
		case n.mask != nil:
			return g.mcode(n.tok.text, n.mask.text, 0, q)
		}
		addrCheck("ip host")
		return g.ncode(n.tok.text, 0, q)
	case tHID6:
		if n.plen != nil {
			return g.mcode6(n.tok.text, n.plen.num, q)
		}
		return g.mcode6(n.tok.text, 128, q)
	case tEID:
		return g.ecode(n.tok.text, q)
	case tAID:
		g.unsupported("ARCnet address " + n.tok.text)
	}
	panic("bpfexpr: unexpected identifier token")
}

// --- keyword primitives ------------------------------------------------------

func (g *gen) other(n otherNode) bexpr {
	switch n.kind {
	case tBROADCAST:
		switch n.proto {
		case qDefault, qLink:
			if g.lt != LinkTypeEthernet {
				g.fail("not a broadcast link")
			}
			return g.ehostop([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, dDst)
		case qIP:
			// No netmask is known (as when tcpdump reads a file): the
			// broadcast addresses are 0.0.0.0 and 255.255.255.255.
			b := bOrOf(g.cmp(orLinkPL, 16, szW, 0), g.cmp(orLinkPL, 16, szW, 0xffffffff))
			return bAndOf(g.linkType(etherTypeIP), b)
		}
		g.fail("only link-layer/IP broadcast filters supported")
	case tMULTICAST:
		switch n.proto {
		case qDefault, qLink:
			if g.lt == LinkTypeEthernet {
				return g.jset(orLinkHdr, 0, szB, 1)
			}
		case qIP:
			return bAndOf(g.linkType(etherTypeIP), g.cmpGE(orLinkPL, 16, szB, 224))
		case qIPV6:
			return bAndOf(g.linkType(etherTypeIPv6), g.cmp(orLinkPL, 24, szB, 255))
		}
		g.fail("link-layer multicast filters supported only on ethernet/FDDI/token ring/ARCNET/802.11/ATM LANE/Fibre Channel")
	case tLESS:
		return bNotOf(bTest{stmts: []stmt{{opLD | mLEN | szW, 0}}, jop: opJMP | jJGT | srcK, k: n.num.num})
	case tGREATER:
		return bTest{stmts: []stmt{{opLD | mLEN | szW, 0}}, jop: opJMP | jJGE | srcK, k: n.num.num}
	case tBYTE:
		idx, val := n.num.num, n.num2.num
		switch n.op {
		case tEQ:
			return g.cmp(orLinkHdr, idx, szB, val)
		case tLT:
			return g.cmpLT(orLinkHdr, idx, szB, val)
		case tGT:
			return g.cmpGT(orLinkHdr, idx, szB, val)
		}
		g.unsupportedHint("'byte N & M' and 'byte N | M'", "libpcap's code for them tests a stale register; write ether[N] & M != 0")
	case tINBOUND, tOUTBOUND:
		var b bexpr
		switch g.lt {
		case LinkTypeLinuxSLL:
			b = g.cmp(orLinkHdr, 0, szH, linuxSLLOut)
		case LinkTypeLinuxSLL2:
			b = g.cmp(orLinkHdr, 10, szB, linuxSLLOut)
		default:
			g.unsupportedHint(fmt.Sprintf("'%s' on %s", n.tok.text, g.lt.description()),
				"only Linux cooked captures, SLL and SLL2, carry the direction")
		}
		if n.kind == tINBOUND {
			b = bNotOf(b)
		}
		return b
	case tIFINDEX:
		if g.lt != LinkTypeLinuxSLL2 {
			g.unsupportedHint("'ifindex' on "+g.lt.description(), "only Linux cooked v2 captures carry it")
		}
		return g.cmp(orLinkHdr, 4, szW, n.num.num)
	case tVLAN:
		return g.vlan(n)
	case tLLC:
		if n.num != nil {
			g.unsupported("'llc " + n.num.text + "'")
		}
		if g.lt != LinkTypeEthernet {
			g.unsupported("'llc' on " + g.lt.description())
		}
		return bAndOf(g.is8023(), bNotOf(g.cmp(orLLC, 0, szH, 0xffff)))
	}
	g.unsupported("'" + n.tok.text + "'")
	return nil
}

// vlan generates "vlan [id]" and moves the link-layer type and payload
// offsets of every primitive generated after it past the tag, as libpcap
// does when it cannot use the kernel's VLAN metadata (reading a file).
func (g *gen) vlan(n otherNode) bexpr {
	if g.lt != LinkTypeEthernet {
		g.fail("no VLAN support for %s", g.lt.description())
	}
	b := bOrOf(g.linkType(etherType8021Q), g.linkType(etherType8021AD))
	b = bOrOf(b, g.linkType(etherType8021QinQ))
	if n.num != nil {
		id := n.num.num
		if id > 0x0fff {
			g.pos = n.num.pos
			g.fail("VLAN tag %d greater than maximum %d", id, 0x0fff)
		}
		b = bAndOf(b, g.mcmp(orLinkPL, 0, szH, id, 0x0fff))
	}
	g.linkpl += 4
	g.linktype += 4
	return b
}

// --- arithmetic ----------------------------------------------------------------

// arithCode is compiled arithmetic: checks that must hold before the
// code runs (protocol tests of packet accesses), code that leaves the
// value in A, and the constant when the expression is a literal.
type arithCode struct {
	checks  bexpr
	code    []stmt
	isConst bool
	k       uint32
}

// firstImm reports the constant that libpcap's code for a would load
// first, if it starts with a constant: libpcap rejects a division,
// modulus or shift whose right operand starts that way.
func firstImm(a arith) (uint32, bool) {
	switch a := a.(type) {
	case aNum:
		return a.v, true
	case aBin:
		return firstImm(a.l)
	case aNeg:
		return firstImm(a.x)
	case aLoad:
		return firstImm(a.idx)
	}
	return 0, false
}

var aluOps = map[tokKind]uint16{
	tPLUS: aluADD, tMINUS: aluSUB, tMUL: aluMUL, tDIV: aluDIV, tMOD: aluMOD,
	tAMP: aluAND, tPIPE: aluOR, tCARET: aluXOR, tLSH: aluLSH, tRSH: aluRSH,
}

func (g *gen) scratch(depth int) uint32 {
	if depth >= memWords {
		g.fail("too many registers needed to evaluate expression")
	}
	return uint32(depth)
}

func (g *gen) arith(a arith, depth int) arithCode {
	switch a := a.(type) {
	case aNum:
		return arithCode{code: []stmt{{opLD | mIMM, a.v}}, isConst: true, k: a.v}
	case aLen:
		return arithCode{code: []stmt{{opLD | mLEN | szW, 0}}}
	case aNeg:
		x := g.arith(a.x, depth)
		if x.isConst {
			return constCode(x.checks, -x.k)
		}
		x.code = append(x.code, stmt{opALU | aluNEG, 0})
		return x
	case aBin:
		g.pos = a.tok.pos
		op := aluOps[a.op]
		if k, ok := firstImm(a.r); ok {
			switch {
			case op == aluDIV && k == 0:
				g.fail("division by zero")
			case op == aluMOD && k == 0:
				g.fail("modulus by zero")
			case (op == aluLSH || op == aluRSH) && k > 31:
				g.fail("shift by more than 31 bits")
			}
		}
		l := g.arith(a.l, depth)
		r := g.arith(a.r, depth+1)
		if l.isConst && r.isConst {
			// Fold constants as libpcap's optimizer does; the result
			// matters for offsets, which wrap at 32 bits.
			if v, ok := foldALU(op, l.k, r.k); ok {
				return constCode(l.checks, v)
			}
		}
		// libpcap keeps only the protocol checks of the left operand.
		if r.isConst {
			l.code = append(l.code, stmt{opALU | op | srcK, r.k})
		} else {
			m := g.scratch(depth)
			l.code = append(l.code, stmt{opST, m})
			l.code = append(l.code, r.code...)
			l.code = append(l.code, stmt{opMISC | miscTAX, 0}, stmt{opLD | mMEM, m}, stmt{opALU | op | srcX, 0})
		}
		l.isConst = false
		return l
	case aLoad:
		return g.load(a, depth)
	}
	panic("bpfexpr: unexpected arithmetic node")
}

func constCode(checks bexpr, v uint32) arithCode {
	return arithCode{checks: checks, code: []stmt{{opLD | mIMM, v}}, isConst: true, k: v}
}

// foldALU computes a constant operation like the interpreter; it
// declines what would end the program at run time (division by zero).
func foldALU(op uint16, a, b uint32) (uint32, bool) {
	switch op {
	case aluADD:
		return a + b, true
	case aluSUB:
		return a - b, true
	case aluMUL:
		return a * b, true
	case aluDIV:
		if b == 0 {
			return 0, false
		}
		return a / b, true
	case aluMOD:
		if b == 0 {
			return 0, false
		}
		return a % b, true
	case aluAND:
		return a & b, true
	case aluOR:
		return a | b, true
	case aluXOR:
		return a ^ b, true
	case aluLSH:
		return a << (b & 31), true
	case aluRSH:
		return a >> (b & 31), true
	}
	return 0, false
}

func (g *gen) load(a aLoad, depth int) arithCode {
	g.pos = a.tok.pos
	if a.size != 1 && a.size != 2 && a.size != 4 {
		if a.szTok != nil {
			g.pos = a.szTok.pos
		}
		g.fail("data size must be 1, 2, or 4")
	}
	size := sizeCode(a.size)
	idx := g.arith(a.idx, depth)
	g.pos = a.tok.pos
	// access loads at base + index, directly when the index is a
	// constant (an absolute load at the same offset behaves the same).
	access := func(base uint32, msh bool) []stmt {
		var pre []stmt
		if msh {
			pre = []stmt{{opLDX | mMSH | szB, base}}
		}
		if idx.isConst {
			// Offsets wrap at 32 bits, as in libpcap's optimized
			// code and in the kernel. An offset that is negative as
			// an int32 never lies in a packet, but the kernel reads
			// some as ancillary data (SKF_AD_OFF...): load a byte
			// that cannot exist instead, which ends the program
			// the same way.
			off := base + idx.k
			if off >= 1<<31 {
				off, size = 1<<31-1, szB
			}
			if msh {
				return append(pre, stmt{opLD | mIND | size, off})
			}
			return []stmt{{opLD | mABS | size, off}}
		}
		code := idx.code
		if msh {
			code = append(code, pre...)
			code = append(code, stmt{opALU | aluADD | srcX, 0})
		}
		return append(code, stmt{opMISC | miscTAX, 0}, stmt{opLD | mIND | size, base})
	}
	out := arithCode{}
	switch a.proto {
	case qRADIO:
		g.fail("radio information not present in capture")
	case qLink:
		out.code = access(g.linkhdr, false)
		out.checks = idx.checks
	case qIP, qARP, qRARP, qATALK, qDECNET, qSCA, qLAT, qMOPRC, qMOPDL, qIPV6:
		out.code = access(g.linkpl+g.nl, false)
		out.checks = bAndOf(idx.checks, g.protoAbbrev(a.proto))
	case qSCTP, qTCP, qUDP, qICMP, qIGMP, qIGRP, qPIM, qVRRP, qCARP:
		out.code = access(g.linkpl+g.nl, true)
		b := bAndOf(g.protoAbbrev(a.proto), g.ipfrag())
		b = bAndOf(idx.checks, b)
		out.checks = bAndOf(g.protoAbbrev(qIP), b)
	case qICMPV6:
		out.code = access(g.linkpl+g.nl+40, false)
		b := bAndOf(idx.checks, g.protoAbbrev(qIPV6))
		out.checks = bAndOf(b, g.cmp(orLinkPL, 6, szB, ipprotoICMPv6))
	default:
		g.fail("unsupported index operation")
	}
	return out
}

func (g *gen) relation(n relNode) bexpr {
	var jop uint16
	reversed := false
	switch n.op {
	case tGT:
		jop = jJGT
	case tGEQ:
		jop = jJGE
	case tEQ:
		jop = jJEQ
	case tLEQ:
		jop, reversed = jJGT, true
	case tLT:
		jop, reversed = jJGE, true
	case tNEQ:
		jop, reversed = jJEQ, true
	}
	l := g.arith(n.l, 0)
	r := g.arith(n.r, 1)
	var b bexpr
	switch {
	case l.isConst && r.isConst:
		switch jop {
		case jJGT:
			b = bConst(l.k > r.k)
		case jJGE:
			b = bConst(l.k >= r.k)
		default:
			b = bConst(l.k == r.k)
		}
	case r.isConst:
		b = mkTest(l.code, opJMP|jop|srcK, r.k)
	default:
		m := g.scratch(0)
		code := append(l.code, stmt{opST, m})
		code = append(code, r.code...)
		code = append(code, stmt{opMISC | miscTAX, 0}, stmt{opLD | mMEM, m})
		b = bTest{stmts: code, jop: opJMP | jop | srcX}
	}
	if reversed {
		b = bNotOf(b)
	}
	return bAndOf(bAndOf(l.checks, r.checks), b)
}

// --- the tree ----------------------------------------------------------------

func (g *gen) node(n node) bexpr {
	switch n := n.(type) {
	case andNode:
		l := g.node(n.l)
		return bAndOf(l, g.node(n.r))
	case orNode:
		l := g.node(n.l)
		return bOrOf(l, g.node(n.r))
	case notNode:
		return bNotOf(g.node(n.x))
	case idNode:
		g.pos = n.tok.pos
		return g.id(n)
	case abbrevNode:
		g.pos = n.tok.pos
		return g.protoAbbrev(n.proto)
	case relNode:
		g.pos = n.tok.pos
		return g.relation(n)
	case otherNode:
		g.pos = n.tok.pos
		return g.other(n)
	}
	panic("bpfexpr: unexpected syntax node")
}
