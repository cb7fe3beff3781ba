package bpfexpr

import (
	"net/netip"
	"regexp"
	"strings"
)

// tokKind is the kind of a lexical token. The set follows libpcap's
// scanner.l: every keyword there is a keyword here, so that a word libpcap
// treats as a keyword is never taken for a host or port name.
type tokKind int

const (
	tEOF tokKind = iota
	tNUM
	tID   // name (or \escaped name)
	tHID  // dotted IPv4 address or prefix: 10.1, 10.1.2, 10.1.2.3
	tHID6 // IPv6 address
	tEID  // MAC address
	tAID  // ARCnet address ($xx)
	tPNAME
	tDST
	tSRC
	tHOST
	tNET
	tMASK
	tPORT
	tPORTRANGE
	tPROTO
	tPROTOCHAIN
	tGATEWAY
	tLESS
	tGREATER
	tBYTE
	tBROADCAST
	tMULTICAST
	tAND
	tOR
	tNOT
	tLEN
	tINBOUND
	tOUTBOUND
	tIFINDEX
	tVLAN
	tMPLS
	tPPPOED
	tPPPOES
	tGENEVE
	tLLC
	tWLANDIR // addr1..addr4, ra, ta: 802.11 direction qualifiers
	tOTHERKW // keywords of primitives this package does not support
	tPLUS    // +
	tMINUS   // -
	tMUL     // *
	tDIV     // /
	tMOD     // %
	tCOLON   // :
	tLBRACK  // [
	tRBRACK  // ]
	tLT      // <
	tGT      // >
	tLPAREN  // (
	tRPAREN  // )
	tAMP     // &
	tPIPE    // |
	tCARET   // ^
	tEQ      // = or ==
	tGEQ     // >=
	tLEQ     // <=
	tNEQ     // !=
	tLSH     // <<
	tRSH     // >>
	tBOGUS   // a lexical error; the token's msg says which
)

type token struct {
	kind  tokKind
	pos   int    // byte offset of the first character
	text  string // source text (without the backslash of an escaped name)
	num   uint32 // value of tNUM
	proto int    // qualifier of tPNAME, dqual of tWLANDIR
	msg   string // error message of tBOGUS
}

// keywords maps libpcap's keywords to tokens. Keywords are case-sensitive,
// as in libpcap.
var keywords = map[string]token{
	"dst": {kind: tDST}, "src": {kind: tSRC},
	"link": {kind: tPNAME, proto: qLink}, "ether": {kind: tPNAME, proto: qLink},
	"ppp": {kind: tPNAME, proto: qLink}, "slip": {kind: tPNAME, proto: qLink},
	"fddi": {kind: tPNAME, proto: qLink}, "tr": {kind: tPNAME, proto: qLink},
	"wlan": {kind: tPNAME, proto: qLink},
	"arp":  {kind: tPNAME, proto: qARP}, "rarp": {kind: tPNAME, proto: qRARP},
	"ip": {kind: tPNAME, proto: qIP}, "sctp": {kind: tPNAME, proto: qSCTP},
	"tcp": {kind: tPNAME, proto: qTCP}, "udp": {kind: tPNAME, proto: qUDP},
	"icmp": {kind: tPNAME, proto: qICMP}, "igmp": {kind: tPNAME, proto: qIGMP},
	"igrp": {kind: tPNAME, proto: qIGRP}, "pim": {kind: tPNAME, proto: qPIM},
	"vrrp": {kind: tPNAME, proto: qVRRP}, "carp": {kind: tPNAME, proto: qCARP},
	"radio": {kind: tPNAME, proto: qRADIO},
	"ip6":   {kind: tPNAME, proto: qIPV6}, "icmp6": {kind: tPNAME, proto: qICMPV6},
	"ah": {kind: tPNAME, proto: qAH}, "esp": {kind: tPNAME, proto: qESP},
	"atalk": {kind: tPNAME, proto: qATALK}, "aarp": {kind: tPNAME, proto: qAARP},
	"decnet": {kind: tPNAME, proto: qDECNET}, "lat": {kind: tPNAME, proto: qLAT},
	"sca": {kind: tPNAME, proto: qSCA}, "moprc": {kind: tPNAME, proto: qMOPRC},
	"mopdl": {kind: tPNAME, proto: qMOPDL},
	"iso":   {kind: tPNAME, proto: qISO}, "esis": {kind: tPNAME, proto: qESIS},
	"es-is": {kind: tPNAME, proto: qESIS}, "isis": {kind: tPNAME, proto: qISIS},
	"is-is": {kind: tPNAME, proto: qISIS}, "l1": {kind: tPNAME, proto: qISISL1},
	"l2": {kind: tPNAME, proto: qISISL2}, "iih": {kind: tPNAME, proto: qISISIIH},
	"lsp": {kind: tPNAME, proto: qISISLSP}, "snp": {kind: tPNAME, proto: qISISSNP},
	"csnp": {kind: tPNAME, proto: qISISCSNP}, "psnp": {kind: tPNAME, proto: qISISPSNP},
	"clnp": {kind: tPNAME, proto: qCLNP}, "stp": {kind: tPNAME, proto: qSTP},
	"ipx": {kind: tPNAME, proto: qIPX}, "netbeui": {kind: tPNAME, proto: qNETBEUI},
	"host": {kind: tHOST}, "net": {kind: tNET}, "mask": {kind: tMASK},
	"port": {kind: tPORT}, "portrange": {kind: tPORTRANGE},
	"proto": {kind: tPROTO}, "protochain": {kind: tPROTOCHAIN},
	"gateway": {kind: tGATEWAY},
	"type":    {kind: tOTHERKW}, "subtype": {kind: tOTHERKW},
	"direction": {kind: tOTHERKW}, "dir": {kind: tOTHERKW},
	"address1": {kind: tWLANDIR, proto: dAddr1}, "addr1": {kind: tWLANDIR, proto: dAddr1},
	"address2": {kind: tWLANDIR, proto: dAddr2}, "addr2": {kind: tWLANDIR, proto: dAddr2},
	"address3": {kind: tWLANDIR, proto: dAddr3}, "addr3": {kind: tWLANDIR, proto: dAddr3},
	"address4": {kind: tWLANDIR, proto: dAddr4}, "addr4": {kind: tWLANDIR, proto: dAddr4},
	"ra": {kind: tWLANDIR, proto: dRA}, "ta": {kind: tWLANDIR, proto: dTA},
	"less": {kind: tLESS}, "greater": {kind: tGREATER}, "byte": {kind: tBYTE},
	"broadcast": {kind: tBROADCAST}, "multicast": {kind: tMULTICAST},
	"and": {kind: tAND}, "&&": {kind: tAND}, "or": {kind: tOR}, "||": {kind: tOR},
	"not": {kind: tNOT},
	"len": {kind: tLEN}, "length": {kind: tLEN},
	"inbound": {kind: tINBOUND}, "outbound": {kind: tOUTBOUND},
	"ifindex": {kind: tIFINDEX},
	"vlan":    {kind: tVLAN}, "mpls": {kind: tMPLS},
	"pppoed": {kind: tPPPOED}, "pppoes": {kind: tPPPOES}, "geneve": {kind: tGENEVE},
	"llc":  {kind: tLLC},
	"lane": {kind: tOTHERKW}, "metac": {kind: tOTHERKW}, "bcc": {kind: tOTHERKW},
	"oam": {kind: tOTHERKW}, "oamf4": {kind: tOTHERKW}, "oamf4ec": {kind: tOTHERKW},
	"oamf4sc": {kind: tOTHERKW}, "sc": {kind: tOTHERKW}, "ilmic": {kind: tOTHERKW},
	"vpi": {kind: tOTHERKW}, "vci": {kind: tOTHERKW}, "connectmsg": {kind: tOTHERKW},
	"metaconnect": {kind: tOTHERKW},
	"on":          {kind: tOTHERKW}, "ifname": {kind: tOTHERKW}, "rset": {kind: tOTHERKW},
	"ruleset": {kind: tOTHERKW}, "rnr": {kind: tOTHERKW}, "rulenum": {kind: tOTHERKW},
	"srnr": {kind: tOTHERKW}, "subrulenum": {kind: tOTHERKW}, "reason": {kind: tOTHERKW},
	"action": {kind: tOTHERKW},
	"fisu":   {kind: tOTHERKW}, "lssu": {kind: tOTHERKW}, "lsu": {kind: tOTHERKW},
	"msu": {kind: tOTHERKW}, "hfisu": {kind: tOTHERKW}, "hlssu": {kind: tOTHERKW},
	"hmsu": {kind: tOTHERKW}, "sio": {kind: tOTHERKW}, "opc": {kind: tOTHERKW},
	"dpc": {kind: tOTHERKW}, "sls": {kind: tOTHERKW}, "hsio": {kind: tOTHERKW},
	"hopc": {kind: tOTHERKW}, "hdpc": {kind: tOTHERKW}, "hsls": {kind: tOTHERKW},
}

// namedConstants are the numeric names of scanner.l (icmptype, tcp-syn...).
var namedConstants = map[string]uint32{
	"icmptype": 0, "icmpcode": 1,
	"icmp-echoreply": 0, "icmp-unreach": 3, "icmp-sourcequench": 4,
	"icmp-redirect": 5, "icmp-echo": 8, "icmp-routeradvert": 9,
	"icmp-routersolicit": 10, "icmp-timxceed": 11, "icmp-paramprob": 12,
	"icmp-tstamp": 13, "icmp-tstampreply": 14, "icmp-ireq": 15,
	"icmp-ireqreply": 16, "icmp-maskreq": 17, "icmp-maskreply": 18,
	"icmp6type": 0, "icmp6code": 1,
	"icmp6-destinationunreach": 1, "icmp6-packettoobig": 2,
	"icmp6-timeexceeded": 3, "icmp6-parameterproblem": 4,
	"icmp6-echo": 128, "icmp6-echoreply": 129,
	"icmp6-multicastlistenerquery": 130, "icmp6-multicastlistenerreportv1": 131,
	"icmp6-multicastlistenerdone": 132, "icmp6-routersolicit": 133,
	"icmp6-routeradvert": 134, "icmp6-neighborsolicit": 135,
	"icmp6-neighboradvert": 136, "icmp6-redirect": 137,
	"icmp6-routerrenum": 138, "icmp6-nodeinformationquery": 139,
	"icmp6-nodeinformationresponse": 140, "icmp6-ineighbordiscoverysolicit": 141,
	"icmp6-ineighbordiscoveryadvert": 142, "icmp6-multicastlistenerreportv2": 143,
	"icmp6-homeagentdiscoveryrequest": 144, "icmp6-homeagentdiscoveryreply": 145,
	"icmp6-mobileprefixsolicit": 146, "icmp6-mobileprefixadvert": 147,
	"icmp6-certpathsolicit": 148, "icmp6-certpathadvert": 149,
	"icmp6-multicastrouteradvert": 151, "icmp6-multicastroutersolicit": 152,
	"icmp6-multicastrouterterm": 153,
	"tcpflags":                  13, "tcp-fin": 0x01, "tcp-syn": 0x02, "tcp-rst": 0x04,
	"tcp-push": 0x08, "tcp-ack": 0x10, "tcp-urg": 0x20, "tcp-ece": 0x40,
	"tcp-cwr": 0x80,
}

// lexRule is one rule of the scanner; like flex, the lexer takes the
// longest match and, on a tie, the earliest rule. Keywords and named
// constants, the first rules of scanner.l, are looked up in maps once the
// name rule has matched.
type lexRule struct {
	kind ruleKind
	re   *regexp.Regexp
}

// ruleKind names the rules of scanner.l, in its order.
type ruleKind int

const (
	rKeyword ruleKind = iota
	rSpace
	rOp1
	rOp2
	rAID
	rMAC
	rNUM
	rHID
	rHID6
	rBogusMAC
	rConst
	rID
	rEscaped
	rAny
)

var lexRules = buildLexRules()

func buildLexRules() []lexRule {
	const (
		n  = `(?:0[xX][0-9A-Fa-f]+|[0-9]+)`
		b  = `[0-9A-Fa-f][0-9A-Fa-f]?`
		b2 = `[0-9A-Fa-f]{4}`
		w  = `[0-9A-Fa-f]{1,4}`
	)
	v4 := n + `\.` + n + `\.` + n + `\.` + n
	// IPv6 forms of scanner.l: 8 groups, or k groups before and m after
	// "::" with k+m <= 7 (k+m <= 5 with an IPv4 tail), or 6 groups and
	// an IPv4 tail.
	var v6 []string
	v6 = append(v6, strings.Repeat(w+`:`, 7)+w)
	groups := func(k int, sep string) string {
		if k == 0 {
			return ""
		}
		return strings.TrimSuffix(strings.Repeat(w+sep, k), sep)
	}
	for total := 7; total >= 0; total-- {
		for k := 0; k <= total; k++ {
			m := total - k
			s := groups(k, ":") + "::" + groups(m, ":")
			v6 = append(v6, s)
		}
	}
	v6 = append(v6, strings.Repeat(w+`:`, 6)+v4)
	for total := 5; total >= 0; total-- {
		for k := 0; k <= total; k++ {
			m := total - k
			s := groups(k, ":") + "::" + groups(m, ":")
			if m > 0 {
				s += ":"
			}
			v6 = append(v6, s+v4)
		}
	}
	mac := `(?:` + strings.Join([]string{
		b + `:` + b + `:` + b + `:` + b + `:` + b + `:` + b,
		b + `-` + b + `-` + b + `-` + b + `-` + b + `-` + b,
		b + `\.` + b + `\.` + b + `\.` + b + `\.` + b + `\.` + b,
		b2 + `\.` + b2 + `\.` + b2,
		b2 + b2 + b2,
	}, "|") + `)`
	mk := func(kind ruleKind, re string) lexRule {
		r := regexp.MustCompile(`^(?:` + re + `)`)
		r.Longest()
		return lexRule{kind, r}
	}
	return []lexRule{
		mk(rSpace, `[ \r\n\t]`),
		mk(rOp1, `[+\-*/%:\[\]!<>()&|^=]`),
		mk(rOp2, `>=|<=|!=|==|<<|>>`),
		mk(rAID, `\$`+b),
		mk(rMAC, mac),
		mk(rNUM, n),
		mk(rHID, n+`\.`+n+`|`+n+`\.`+n+`\.`+n+`|`+v4),
		mk(rHID6, strings.Join(v6, "|")),
		mk(rBogusMAC, b+`:+(?:`+b+`:+)+`),
		mk(rID, `[A-Za-z0-9](?:[-_.A-Za-z0-9]*[.A-Za-z0-9])?`),
		mk(rEscaped, `\\[^ !()\n\t]+`),
		mk(rAny, `(?s).`),
	}
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// ruleMayMatch skips rules that cannot match at rest, to keep the lexer
// fast; keywords and named constants are found through the name rule.
func ruleMayMatch(k ruleKind, c byte, rest string) bool {
	switch k {
	case rAID:
		return c == '$'
	case rEscaped:
		return c == '\\'
	case rMAC, rNUM, rHID, rID:
		return isAlnum(c)
	case rHID6, rBogusMAC:
		if !isHexDigit(c) && c != ':' {
			return false
		}
		for i := 0; i < len(rest); i++ {
			switch d := rest[i]; {
			case d == ':':
				return true
			case !isHexDigit(d) && d != '.' && d != 'x' && d != 'X':
				return false
			}
		}
		return false
	}
	return true
}

var singleOps = map[byte]tokKind{
	'+': tPLUS, '-': tMINUS, '*': tMUL, '/': tDIV, '%': tMOD, ':': tCOLON,
	'[': tLBRACK, ']': tRBRACK, '!': tNOT, '<': tLT, '>': tGT, '(': tLPAREN,
	')': tRPAREN, '&': tAMP, '|': tPIPE, '^': tCARET, '=': tEQ,
}

var doubleOps = map[string]tokKind{
	">=": tGEQ, "<=": tLEQ, "!=": tNEQ, "==": tEQ, "<<": tLSH, ">>": tRSH,
}

// lex splits expr into tokens. Lexical errors become tBOGUS tokens, which
// the parser reports at their position, as libpcap does with LEX_ERROR.
func lex(expr string) []token {
	var toks []token
	pos := 0
	for pos < len(expr) {
		rest := expr[pos:]
		best, bestLen := rAny, 0
		idLen := 0
		c := rest[0]
		for _, r := range lexRules {
			if !ruleMayMatch(r.kind, c, rest) {
				continue
			}
			if loc := r.re.FindStringIndex(rest); loc != nil {
				if r.kind == rID {
					idLen = loc[1]
				}
				if loc[1] > bestLen {
					best, bestLen = r.kind, loc[1]
				}
			}
		}
		// Keywords and named constants are words: the earlier rules of
		// scanner.l, they win a tie with the name rule.
		switch {
		case strings.HasPrefix(rest, "&&") || strings.HasPrefix(rest, "||"):
			best, bestLen = rKeyword, 2
		case idLen > 0 && idLen == bestLen:
			if _, ok := keywords[rest[:idLen]]; ok {
				best = rKeyword
			} else if _, ok := namedConstants[rest[:idLen]]; ok && best == rID {
				best = rConst
			}
		}
		text := rest[:bestLen]
		tok := token{pos: pos, text: text}
		switch best {
		case rKeyword:
			tok = keywords[text]
			tok.pos, tok.text = pos, text
		case rSpace:
			pos += bestLen
			continue
		case rOp1:
			tok.kind = singleOps[text[0]]
		case rOp2:
			tok.kind = doubleOps[text]
		case rAID:
			tok.kind = tAID
		case rMAC:
			tok.kind = tEID
		case rNUM:
			tok.kind = tNUM
			v, msg := parseNumber(text)
			if msg != "" {
				tok.kind, tok.msg = tBOGUS, msg
			}
			tok.num = v
		case rHID:
			tok.kind = tHID
		case rHID6:
			tok.kind = tHID6
			if _, err := netip.ParseAddr(text); err != nil {
				tok.kind, tok.msg = tBOGUS, "bogus IPv6 address "+text
			}
		case rBogusMAC:
			tok.kind, tok.msg = tBOGUS, "bogus ethernet address "+text
		case rConst:
			tok.kind, tok.num = tNUM, namedConstants[text]
		case rID:
			tok.kind = tID
		case rEscaped:
			tok.kind, tok.text = tID, text[1:]
		default:
			tok.kind, tok.msg = tBOGUS, "unexpected character "+quoteChar(text)
		}
		toks = append(toks, tok)
		pos += bestLen
	}
	return append(toks, token{kind: tEOF, pos: len(expr)})
}

func quoteChar(s string) string {
	if s == "'" {
		return `"'"`
	}
	return "'" + s + "'"
}

// parseNumber converts a scanner.l number: 0x.. is hex, a leading 0 is
// octal, anything else decimal; it must fit in 32 bits.
func parseNumber(s string) (uint32, string) {
	var n uint64
	switch {
	case len(s) > 2 && (s[1] == 'x' || s[1] == 'X'):
		for _, c := range s[2:] {
			var d uint64
			switch {
			case c >= '0' && c <= '9':
				d = uint64(c - '0')
			case c >= 'a' && c <= 'f':
				d = uint64(c-'a') + 10
			default:
				d = uint64(c-'A') + 10
			}
			n = n<<4 | d
			if n > 0xffffffff {
				return 0, "number " + s + " overflows 32 bits"
			}
		}
	case len(s) > 1 && s[0] == '0':
		for _, c := range s[1:] {
			if c > '7' {
				return 0, "number " + s + " contains non-octal digit"
			}
			n = n<<3 | uint64(c-'0')
			if n > 0xffffffff {
				return 0, "number " + s + " overflows 32 bits"
			}
		}
	default:
		for _, c := range s {
			n = n*10 + uint64(c-'0')
			if n > 0xffffffff {
				return 0, "number " + s + " overflows 32 bits"
			}
		}
	}
	return uint32(n), ""
}
