package bpfexpr

import (
	"fmt"
)

// The parser turns tokens into a syntax tree, following libpcap 1.10's
// grammar.y. Where bison resolves an ambiguity with its one token of
// look-ahead (is "(" the start of a parenthesized expression, of a list
// of identifiers, or of an arithmetic operand?), the parser tries the
// alternatives in turn. Code generation happens afterwards, walking the
// tree in source order, which is the order in which libpcap's grammar
// actions run; that order matters because "vlan" changes the offsets of
// every primitive generated after it.

// node is a boolean expression of the syntax tree.
type node interface{}

type andNode struct{ l, r node }
type orNode struct{ l, r node }
type notNode struct{ x node }

// idNode is an address, port, protocol or name with the qualifiers in
// force (explicit, or inherited from the previous primitive).
type idNode struct {
	q    qual
	tok  token  // tID, tHID, tHID6, tEID, tAID or tNUM
	mask *token // "HID mask HID"
	plen *token // "HID/NUM", "HID6/NUM"
}

// abbrevNode is a protocol name on its own: "tcp", "ip6", "arp".
type abbrevNode struct {
	proto int
	tok   token
}

// relNode is "arith relop arith".
type relNode struct {
	op   tokKind
	l, r arith
	tok  token
}

// otherNode is one of the keyword primitives of the grammar's "other"
// rule: broadcast, multicast, less, greater, byte, inbound, outbound,
// ifindex, vlan, llc, and those this package rejects.
type otherNode struct {
	kind  tokKind
	proto int    // protocol qualifier of broadcast/multicast
	num   *token // operand, if any
	op    tokKind
	num2  *token
	tok   token
}

// arith is an arithmetic expression of a relation.
type arith interface{}

type aNum struct {
	v   uint32
	tok token
}
type aLen struct{ tok token }
type aLoad struct {
	proto int
	idx   arith
	size  uint32
	tok   token // the protocol name
	szTok *token
}
type aBin struct {
	op   tokKind
	l, r arith
	tok  token
}
type aNeg struct {
	x   arith
	tok token
}

type parser struct {
	expr string
	toks []token
	i    int
	// furthest is the syntax error that got furthest into the
	// expression, reported when every alternative failed.
	furthest *SyntaxError
}

// parseError is the panic value that unwinds a failed parse.
type parseError struct{ err *SyntaxError }

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) peekAt(n int) token {
	if p.i+n < len(p.toks) {
		return p.toks[p.i+n]
	}
	return p.toks[len(p.toks)-1]
}
func (p *parser) next() token {
	t := p.toks[p.i]
	if p.i < len(p.toks)-1 {
		p.i++
	}
	return t
}

// failMsg reports a syntax error with msg at the current token.
func (p *parser) failMsg(msg string) {
	err := &SyntaxError{Expr: p.expr, Pos: p.peek().pos, Msg: msg}
	if p.furthest == nil || err.Pos > p.furthest.Pos {
		p.furthest = err
	}
	panic(parseError{err})
}

// fail reports a syntax error at the current token.
func (p *parser) fail(expected string) {
	t := p.peek()
	var msg string
	switch {
	case t.kind == tBOGUS:
		msg = t.msg
	case t.kind == tEOF:
		msg = "unexpected end of expression"
		if expected != "" {
			msg += ", expected " + expected
		}
	default:
		msg = fmt.Sprintf("unexpected %s", describe(t))
		if expected != "" {
			msg += ", expected " + expected
		}
	}
	err := &SyntaxError{Expr: p.expr, Pos: t.pos, Msg: msg}
	if p.furthest == nil || err.Pos > p.furthest.Pos {
		p.furthest = err
	}
	panic(parseError{err})
}

func describe(t token) string {
	switch t.kind {
	case tNUM:
		return "number " + t.text
	case tID:
		return fmt.Sprintf("name %q", t.text)
	case tHID, tHID6:
		return "address " + t.text
	case tEID:
		return "MAC address " + t.text
	}
	return fmt.Sprintf("%q", t.text)
}

// try runs f and reports whether it parsed; on failure the position is
// restored.
func (p *parser) try(f func()) (ok bool) {
	save := p.i
	defer func() {
		if r := recover(); r != nil {
			if _, isParse := r.(parseError); !isParse {
				panic(r)
			}
			p.i = save
			ok = false
		}
	}()
	f()
	return true
}

func (p *parser) expect(k tokKind, what string) token {
	if p.peek().kind != k {
		p.fail(what)
	}
	return p.next()
}

// parse parses the whole expression; an empty expression yields nil.
func (p *parser) parse() (n node, err *SyntaxError) {
	defer func() {
		if r := recover(); r != nil {
			pe, ok := r.(parseError)
			if !ok {
				panic(r)
			}
			err = pe.err
			if p.furthest != nil && p.furthest.Pos > err.Pos {
				err = p.furthest
			}
		}
	}()
	if p.peek().kind == tEOF {
		return nil, nil
	}
	n, _ = p.parseExpr(qerr, false)
	if p.peek().kind != tEOF {
		p.fail("'and', 'or' or end of expression")
	}
	return n, nil
}

// parseExpr parses "term ((and|or) (term|id))*". An identifier without
// keywords after "and"/"or" takes the qualifiers of the previous
// primitive. firstID allows the first element to be an identifier list
// (inside parentheses after a qualifier, see parseParen).
func (p *parser) parseExpr(q qual, firstID bool) (node, qual) {
	var n node
	if firstID {
		n, q = p.parseTermOrID(q)
	} else {
		n, q = p.parseTerm(q)
	}
	for {
		switch p.peek().kind {
		case tAND:
			p.next()
			var r node
			r, q = p.parseTermOrID(q)
			n = andNode{n, r}
		case tOR:
			p.next()
			var r node
			r, q = p.parseTermOrID(q)
			n = orNode{n, r}
		default:
			return n, q
		}
	}
}

func isIDStart(k tokKind) bool {
	switch k {
	case tID, tHID, tHID6, tEID, tAID:
		return true
	}
	return false
}

func isArithOp(k tokKind) bool {
	switch k {
	case tPLUS, tMINUS, tMUL, tDIV, tMOD, tAMP, tPIPE, tCARET, tLSH, tRSH:
		return true
	}
	return false
}

func isRelop(k tokKind) bool {
	switch k {
	case tGT, tGEQ, tEQ, tLEQ, tLT, tNEQ:
		return true
	}
	return false
}

// parseTermOrID parses what may follow "and"/"or": a term, or an
// identifier that inherits q.
func (p *parser) parseTermOrID(q qual) (node, qual) {
	t := p.peek()
	switch {
	case t.kind == tNOT:
		p.next()
		x, q2 := p.parseTermOrID(q)
		return notNode{x}, q2
	case isIDStart(t.kind):
		return p.parseID(q)
	case t.kind == tNUM && !isArithOp(p.peekAt(1).kind) && !isRelop(p.peekAt(1).kind):
		return p.parseID(q)
	case t.kind == tLPAREN:
		return p.parseParen(q, true)
	}
	return p.parseTerm(q)
}

// parseParen parses a parenthesized term: an arithmetic relation whose
// first operand is parenthesized, a list of identifiers (when idOK), or
// an expression.
func (p *parser) parseParen(q qual, idOK bool) (node, qual) {
	var n node
	if p.try(func() { n = p.parseRelation() }) {
		return n, qerr
	}
	if idOK {
		var q2 qual
		if p.try(func() {
			p.next() // (
			n, q2 = p.parsePid(q)
			p.expect(tRPAREN, "')'")
			if k := p.peek().kind; isArithOp(k) || isRelop(k) {
				p.fail("")
			}
		}) {
			return n, q2
		}
	}
	p.next() // (
	n, _ = p.parseExpr(q, false)
	p.expect(tRPAREN, "')'")
	return n, q
}

// parseTerm parses "not term" or an rterm.
func (p *parser) parseTerm(q qual) (node, qual) {
	t := p.peek()
	switch t.kind {
	case tNOT:
		p.next()
		x, q2 := p.parseTerm(q)
		return notNode{x}, q2
	case tLPAREN:
		return p.parseParen(q, false)
	case tPNAME:
		switch p.peekAt(1).kind {
		case tDST, tSRC, tHOST, tNET, tPORT, tPORTRANGE, tPROTO, tPROTOCHAIN, tGATEWAY, tWLANDIR:
			p.next()
			hq := p.parseHead(t.proto)
			return p.parseID(hq)
		case tBROADCAST, tMULTICAST:
			p.next()
			k := p.next()
			return otherNode{kind: k.kind, proto: t.proto, tok: k}, qerr
		case tLBRACK:
			return p.parseRelation(), qerr
		case tOTHERKW:
			p.next()
			p.unsupportedKeyword(p.peek())
		}
		p.next()
		return abbrevNode{proto: t.proto, tok: t}, qerr
	case tDST, tSRC, tHOST, tNET, tPORT, tPORTRANGE, tPROTO, tPROTOCHAIN, tGATEWAY, tWLANDIR:
		hq := p.parseHead(qDefault)
		return p.parseID(hq)
	case tBROADCAST, tMULTICAST:
		p.next()
		return otherNode{kind: t.kind, proto: qDefault, tok: t}, qerr
	case tNUM, tLEN, tMINUS:
		return p.parseRelation(), qerr
	case tLESS, tGREATER, tIFINDEX:
		p.next()
		n := p.expect(tNUM, "a number")
		return otherNode{kind: t.kind, num: &n, tok: t}, qerr
	case tBYTE:
		p.next()
		n := p.expect(tNUM, "a number")
		op := p.next()
		switch op.kind {
		case tAMP, tPIPE, tLT, tGT, tEQ:
		default:
			p.i--
			p.fail("one of '=', '<', '>', '&', '|'")
		}
		n2 := p.expect(tNUM, "a number")
		return otherNode{kind: t.kind, num: &n, op: op.kind, num2: &n2, tok: t}, qerr
	case tINBOUND, tOUTBOUND, tPPPOED:
		p.next()
		return otherNode{kind: t.kind, tok: t}, qerr
	case tVLAN, tMPLS, tPPPOES, tGENEVE:
		p.next()
		o := otherNode{kind: t.kind, tok: t}
		if k := p.peek().kind; k == tNUM || k == tLPAREN {
			v := p.parsePnum()
			o.num = &v
		}
		return o, qerr
	case tLLC:
		p.next()
		o := otherNode{kind: t.kind, tok: t}
		if p.peek().kind == tID {
			n := p.next()
			o.num = &n
		}
		return o, qerr
	case tOTHERKW:
		p.unsupportedKeyword(t)
	}
	if isIDStart(t.kind) {
		p.failMsg(describe(t) + " needs a qualifier such as 'host', 'net' or 'port' before it")
	}
	p.fail("a primitive such as 'host', 'port', 'tcp' or 'ip[0]'")
	return nil, qerr
}

func (p *parser) unsupportedKeyword(t token) {
	err := &SyntaxError{Expr: p.expr, Pos: t.pos,
		Msg: fmt.Sprintf("'%s' is not supported yet", t.text), unsupported: true}
	// Not a syntax error that another alternative could avoid: report it.
	p.furthest = err
	panic(parseError{err})
}

// parseHead parses the qualifiers of a primitive after the protocol:
// "src", "dst", "src or dst", "src and dst", then "host", "net", "port",
// "portrange"; or "proto", "protochain", "gateway".
func (p *parser) parseHead(proto int) qual {
	q := qual{proto: proto, dir: dDefault, addr: aDefault}
	switch t := p.peek(); t.kind {
	case tSRC, tDST:
		p.next()
		q.dir = dSrc
		other := tDST
		if t.kind == tDST {
			q.dir, other = dDst, tSRC
		}
		switch p.peek().kind {
		case tOR:
			p.next()
			p.expect(other, fmt.Sprintf("'%s'", map[tokKind]string{tSRC: "src", tDST: "dst"}[other]))
			q.dir = dOr
		case tAND:
			p.next()
			p.expect(other, fmt.Sprintf("'%s'", map[tokKind]string{tSRC: "src", tDST: "dst"}[other]))
			q.dir = dAnd
		}
	case tWLANDIR:
		p.next()
		q.dir = t.proto
	case tPROTO:
		p.next()
		q.addr = aProto
		return q
	case tPROTOCHAIN:
		p.next()
		q.addr = aProtochain
		return q
	case tGATEWAY:
		p.next()
		q.addr = aGateway
		return q
	}
	switch p.peek().kind {
	case tHOST:
		q.addr = aHost
		p.next()
	case tNET:
		q.addr = aNet
		p.next()
	case tPORT:
		q.addr = aPort
		p.next()
	case tPORTRANGE:
		q.addr = aPortrange
		p.next()
	}
	return q
}

// parseID parses an identifier with the qualifiers q:
// a name, an address (with /len or mask), a number, "not id", or a
// parenthesized list of identifiers.
func (p *parser) parseID(q qual) (node, qual) {
	t := p.peek()
	switch t.kind {
	case tNOT:
		p.next()
		x, q2 := p.parseID(q)
		return notNode{x}, q2
	case tID, tEID, tAID:
		p.next()
		return idNode{q: q, tok: t}, q
	case tHID:
		p.next()
		n := idNode{q: q, tok: t}
		switch p.peek().kind {
		case tDIV:
			p.next()
			l := p.expect(tNUM, "a prefix length")
			n.plen = &l
		case tMASK:
			p.next()
			m := p.expect(tHID, "a netmask")
			n.mask = &m
		}
		return n, q
	case tHID6:
		p.next()
		n := idNode{q: q, tok: t}
		if p.peek().kind == tDIV {
			p.next()
			l := p.expect(tNUM, "a prefix length")
			n.plen = &l
		}
		return n, q
	case tNUM:
		v := p.parsePnum()
		return idNode{q: q, tok: v}, q
	case tLPAREN:
		var n node
		var q2 qual
		if p.try(func() { v := p.parsePnum(); n, q2 = idNode{q: q, tok: v}, q }) {
			return n, q2
		}
		p.next()
		n, q2 = p.parsePid(q)
		p.expect(tRPAREN, "')'")
		return n, q2
	}
	p.fail("an address, a number or a name")
	return nil, q
}

// parsePid parses the inside of a parenthesized identifier list:
// "(1.2.3.4 or 5.6.7.8)", "(80 or 443)".
func (p *parser) parsePid(q qual) (node, qual) {
	var n node
	t := p.peek()
	switch {
	case t.kind == tNOT || isIDStart(t.kind) || t.kind == tNUM:
		n, q = p.parseID(q)
	case t.kind == tLPAREN:
		v := p.parsePnum()
		n = idNode{q: q, tok: v}
	default:
		p.fail("an address, a number or a name")
	}
	for {
		switch p.peek().kind {
		case tAND:
			p.next()
			var r node
			r, q = p.parseID(q)
			n = andNode{n, r}
		case tOR:
			p.next()
			var r node
			r, q = p.parseID(q)
			n = orNode{n, r}
		default:
			return n, q
		}
	}
}

// parsePnum parses NUM or "(" pnum ")".
func (p *parser) parsePnum() token {
	if p.peek().kind == tLPAREN {
		p.next()
		v := p.parsePnum()
		p.expect(tRPAREN, "')'")
		return v
	}
	return p.expect(tNUM, "a number")
}

// parseRelation parses "arith relop arith".
func (p *parser) parseRelation() node {
	l := p.parseArith()
	op := p.peek()
	if !isRelop(op.kind) {
		p.fail("a comparison ('=', '!=', '<', '<=', '>', '>=')")
	}
	p.next()
	r := p.parseArith()
	return relNode{op: op.kind, l: l, r: r, tok: op}
}

// Precedence of arithmetic operators in grammar.y; '%' and '^' have none,
// so bison resolves every conflict involving them by shifting: they take
// everything to their right and only the operand to their left.
func arithPrec(k tokKind) int {
	switch k {
	case tPIPE:
		return 1
	case tAMP:
		return 2
	case tLSH, tRSH:
		return 3
	case tPLUS, tMINUS:
		return 4
	case tMUL, tDIV:
		return 5
	case tNEG:
		return 6
	}
	return 0
}

// tNEG marks a pending unary minus on the operator stack.
const tNEG = tBOGUS + 1

type pendingOp struct {
	kind tokKind
	tok  token
}

// parseArith parses an arithmetic expression the way bison's LALR(1)
// parser with grammar.y's precedence declarations does.
func (p *parser) parseArith() arith {
	var vals []arith
	var ops []pendingOp
	reduce := func() {
		o := ops[len(ops)-1]
		ops = ops[:len(ops)-1]
		if o.kind == tNEG {
			vals[len(vals)-1] = aNeg{x: vals[len(vals)-1], tok: o.tok}
			return
		}
		l, r := vals[len(vals)-2], vals[len(vals)-1]
		vals = append(vals[:len(vals)-2], aBin{op: o.kind, l: l, r: r, tok: o.tok})
	}
	operand := func() {
		for p.peek().kind == tMINUS {
			ops = append(ops, pendingOp{tNEG, p.next()})
		}
		vals = append(vals, p.parseArithPrimary())
	}
	operand()
	for isArithOp(p.peek().kind) {
		t := p.next()
		for len(ops) > 0 {
			po, pt := arithPrec(ops[len(ops)-1].kind), arithPrec(t.kind)
			if po == 0 || pt == 0 || po < pt {
				break // shift
			}
			reduce()
		}
		ops = append(ops, pendingOp{t.kind, t})
		operand()
	}
	for len(ops) > 0 {
		reduce()
	}
	return vals[0]
}

func (p *parser) parseArithPrimary() arith {
	t := p.peek()
	switch t.kind {
	case tNUM:
		p.next()
		return aNum{v: t.num, tok: t}
	case tLEN:
		p.next()
		return aLen{tok: t}
	case tPNAME:
		p.next()
		p.expect(tLBRACK, "'['")
		idx := p.parseArith()
		ld := aLoad{proto: t.proto, idx: idx, size: 1, tok: t}
		if p.peek().kind == tCOLON {
			p.next()
			sz := p.expect(tNUM, "a size (1, 2 or 4)")
			ld.size, ld.szTok = sz.num, &sz
		}
		p.expect(tRBRACK, "']'")
		return ld
	case tLPAREN:
		p.next()
		a := p.parseArith()
		p.expect(tRPAREN, "')'")
		return a
	}
	p.fail("a number, 'len' or a packet access such as ip[0]")
	return nil
}
