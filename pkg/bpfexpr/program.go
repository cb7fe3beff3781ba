package bpfexpr

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/net/bpf"
)

// LinkType is a pcap LINKTYPE_ value: the link-layer header that the
// packets given to a Program start with.
type LinkType uint16

// Link types a Program can be compiled for.
const (
	LinkTypeNull      LinkType = 0   // BSD loopback, address family in little-endian host order
	LinkTypeEthernet  LinkType = 1   // Ethernet, 802.1Q tags only under "vlan"
	LinkTypeRaw       LinkType = 101 // raw IPv4 or IPv6, told apart by the version nibble
	LinkTypeLoop      LinkType = 108 // OpenBSD loopback, address family in network order
	LinkTypeLinuxSLL  LinkType = 113 // Linux cooked capture v1
	LinkTypeIPv4      LinkType = 228 // raw IPv4 only
	LinkTypeIPv6      LinkType = 229 // raw IPv6 only
	LinkTypeLinuxSLL2 LinkType = 276 // Linux cooked capture v2
)

// Program is a compiled filter. It is immutable, and safe for concurrent
// use by multiple goroutines.
type Program struct {
	expr    string
	lt      LinkType
	snaplen uint32
	raw     []insnRaw
	vm      []vmInsn
}

// insnRaw is a classic BPF instruction as the kernel takes it.
type insnRaw struct {
	op     uint16
	jt, jf uint8
	k      uint32
}

// Compile compiles a tcpdump filter expression for packets of link type
// lt. A packet that matches is accepted with snaplen bytes, like libpcap's
// programs ("ret #snaplen"); one that does not with 0 bytes.
//
// An empty expression matches every packet. Errors about the expression
// are *SyntaxError; those about syntax that is valid for libpcap but not
// supported here wrap ErrUnsupported. An unsupported link type or a
// snaplen that is not positive is reported with a plain error.
func Compile(expr string, lt LinkType, snaplen int) (*Program, error) {
	if snaplen <= 0 {
		return nil, fmt.Errorf("compiling filter: snaplen %d is not positive", snaplen)
	}
	g, err := newGen(expr, lt)
	if err != nil {
		return nil, fmt.Errorf("compiling filter: %w", err)
	}
	p := &parser{expr: expr, toks: lex(expr)}
	tree, serr := p.parse()
	if serr != nil {
		return nil, serr
	}
	prog := &Program{expr: expr, lt: lt, snaplen: uint32(snaplen)}
	if tree == nil {
		prog.raw = []insnRaw{{op: opRET | retK, k: prog.snaplen}}
	} else {
		root, serr := generate(g, tree)
		if serr != nil {
			return nil, serr
		}
		if c, ok := root.(bConst); ok && !bool(c) {
			return nil, &SyntaxError{Expr: expr, Pos: 0, Msg: "expression rejects all packets on " + lt.description()}
		}
		e := newEmitter()
		t, f := e.newLabel(), e.newLabel()
		if c, ok := root.(bConst); ok && bool(c) {
			e.place(t)
		} else {
			e.emit(root, t, f)
			e.place(t)
		}
		e.add(linsn{op: opRET | retK, k: prog.snaplen})
		e.place(f)
		e.add(linsn{op: opRET | retK, k: 0})
		optimize(e)
		raw, err := e.assemble()
		if err != nil {
			return nil, &SyntaxError{Expr: expr, Pos: 0, Msg: err.Error()}
		}
		prog.raw = raw
	}
	vm, err := decode(prog.raw)
	if err != nil {
		// The code generator produced something the interpreter does
		// not run: a bug here, not in the expression.
		return nil, fmt.Errorf("compiling filter %q: %w", expr, err)
	}
	prog.vm = vm
	return prog, nil
}

func generate(g *gen, tree node) (b bexpr, err *SyntaxError) {
	defer func() {
		if r := recover(); r != nil {
			ge, ok := r.(genError)
			if !ok {
				panic(r)
			}
			err = ge.err
		}
	}()
	return g.node(tree), nil
}

// Instructions returns the program as classic BPF, ready for
// SO_ATTACH_FILTER. The caller owns the returned slice.
func (p *Program) Instructions() []bpf.RawInstruction {
	out := make([]bpf.RawInstruction, len(p.raw))
	for i, in := range p.raw {
		out[i] = bpf.RawInstruction{Op: in.op, Jt: in.jt, Jf: in.jf, K: in.k}
	}
	return out
}

// Match reports whether the filter accepts a packet. data is the captured
// part of the packet, starting with the link-layer header of the
// program's link type; wireLen is its length on the wire (the value of
// "len"). Match does not retain data and does not allocate.
func (p *Program) Match(data []byte, wireLen int) bool {
	return run(p.vm, data, uint32(wireLen)) != 0
}

// String returns the program in the format of "tcpdump -d".
func (p *Program) String() string {
	var b strings.Builder
	for i, in := range p.raw {
		b.WriteString(image(in, i))
		b.WriteByte('\n')
	}
	return b.String()
}

// Expr returns the expression the program was compiled from.
func (p *Program) Expr() string { return p.expr }

// LinkType returns the link type the program was compiled for.
func (p *Program) LinkType() LinkType { return p.lt }

// image formats one instruction like libpcap's bpf_image.
func image(in insnRaw, n int) string {
	var op, operand string
	cond := false
	k := in.k
	switch in.op {
	case opRET | retK:
		op, operand = "ret", fmt.Sprintf("#%d", k)
	case opRET | 0x10:
		op = "ret"
	case opLD | mABS | szW:
		op, operand = "ld", fmt.Sprintf("[%d]", k)
	case opLD | mABS | szH:
		op, operand = "ldh", fmt.Sprintf("[%d]", k)
	case opLD | mABS | szB:
		op, operand = "ldb", fmt.Sprintf("[%d]", k)
	case opLD | mLEN | szW:
		op, operand = "ld", "#pktlen"
	case opLD | mIND | szW:
		op, operand = "ld", fmt.Sprintf("[x + %d]", k)
	case opLD | mIND | szH:
		op, operand = "ldh", fmt.Sprintf("[x + %d]", k)
	case opLD | mIND | szB:
		op, operand = "ldb", fmt.Sprintf("[x + %d]", k)
	case opLD | mIMM:
		op, operand = "ld", fmt.Sprintf("#0x%x", k)
	case opLDX | mIMM:
		op, operand = "ldx", fmt.Sprintf("#0x%x", k)
	case opLDX | mMSH | szB:
		op, operand = "ldxb", fmt.Sprintf("4*([%d]&0xf)", k)
	case opLD | mMEM:
		op, operand = "ld", fmt.Sprintf("M[%d]", k)
	case opLDX | mMEM:
		op, operand = "ldx", fmt.Sprintf("M[%d]", k)
	case opST:
		op, operand = "st", fmt.Sprintf("M[%d]", k)
	case opSTX:
		op, operand = "stx", fmt.Sprintf("M[%d]", k)
	case opJMP | jJA:
		op, operand = "ja", fmt.Sprintf("%d", n+1+int(k))
	case opMISC | miscTAX:
		op = "tax"
	case opMISC | miscTXA:
		op = "txa"
	case opALU | aluNEG:
		op = "neg"
	default:
		switch in.op & 0x07 {
		case opJMP:
			cond = true
			op = map[uint16]string{jJEQ: "jeq", jJGT: "jgt", jJGE: "jge", jJSET: "jset"}[in.op&0xf0]
		case opALU:
			op = map[uint16]string{aluADD: "add", aluSUB: "sub", aluMUL: "mul", aluDIV: "div",
				aluMOD: "mod", aluAND: "and", aluOR: "or", aluXOR: "xor", aluLSH: "lsh", aluRSH: "rsh"}[in.op&0xf0]
		}
		switch {
		case in.op&srcX != 0:
			operand = "x"
		case in.op&0x07 == opALU && (in.op&0xf0 == aluAND || in.op&0xf0 == aluOR || in.op&0xf0 == aluXOR):
			operand = fmt.Sprintf("#0x%x", k)
		case in.op&0x07 == opALU:
			operand = fmt.Sprintf("#%d", k)
		default:
			operand = fmt.Sprintf("#0x%x", k)
		}
		if op == "" {
			op, operand = "unimp", fmt.Sprintf("0x%x", in.op)
		}
	}
	if cond {
		return fmt.Sprintf("(%03d) %-8s %-16s jt %d\tjf %d", n, op, operand, n+1+int(in.jt), n+1+int(in.jf))
	}
	return fmt.Sprintf("(%03d) %-8s %s", n, op, operand)
}

var errBadProgram = errors.New("invalid program")
