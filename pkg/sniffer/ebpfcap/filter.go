package ebpfcap

import (
	"fmt"
	"math"
	"strconv"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/kubectl-shark/kubectl-shark/pkg/capfilter"
)

// Classic BPF opcode fields (linux/filter.h).
const (
	cLD, cLDX, cST, cSTX, cALU, cJMP, cRET, cMISC = 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07

	cW, cH, cB = 0x00, 0x08, 0x10

	cIMM, cABS, cIND, cMEM, cLEN, cMSH = 0x00, 0x20, 0x40, 0x60, 0x80, 0xa0

	cK, cX = 0x00, 0x08

	cRetA = 0x10

	cTAX, cTXA = 0x00, 0x80

	cJA, cJEQ, cJGT, cJGE, cJSET = 0x00, 0x10, 0x20, 0x30, 0x40

	cADD, cSUB, cMUL, cDIV, cOR, cAND, cLSH, cRSH, cNEG, cMOD, cXOR = 0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0
)

// Registers and stack of a translated filter. R6–R9 survive helper calls.
const (
	regCtx = asm.R6
	regA   = asm.R7
	regX   = asm.R8

	memOff = -64 // scratch memory M[0..15] at fp-64 … fp-4
	bufOff = -72 // bpf_skb_load_bytes destination

	labelMatch  = "match"
	labelReject = "reject"
)

var aluOps = map[uint16]asm.ALUOp{
	cADD: asm.Add, cSUB: asm.Sub, cMUL: asm.Mul, cDIV: asm.Div, cOR: asm.Or, cAND: asm.And,
	cLSH: asm.LSh, cRSH: asm.RSh, cMOD: asm.Mod, cXOR: asm.Xor,
}

var jumpOps = map[uint16]asm.JumpOp{cJEQ: asm.JEq, cJGT: asm.JGT, cJGE: asm.JGE, cJSET: asm.JSet}

// translation is a classic BPF filter as eBPF instructions for a SchedCLS
// program whose context (the skb) is in R1. They end by jumping to the symbol
// labelMatch or labelReject, which the caller appends: accepts and rejects say
// which of them are jumped to (the verifier refuses unreachable code).
type translation struct {
	insns            asm.Instructions
	accepts, rejects bool
}

// translate converts a validated classic BPF filter (capfilter's semantics,
// which are libpcap's bpf_filter) into eBPF. Packet loads go through
// bpf_skb_load_bytes, so they work on non-linear skbs and on the whole packet
// whatever the snap length; a load past the end of the packet, or at a
// negative offset (Linux's SKF_AD_* extensions, which capfilter never emits),
// rejects the packet, as does a division by zero. Shifts by 32 or more give 0.
// The value a return instruction gives is only tested for zero: the snap
// length is the capture's.
func translate(prog []capfilter.Instruction) (translation, error) {
	n := len(prog)
	if n == 0 {
		return translation{}, fmt.Errorf("translating filter: empty program")
	}
	// Reachable instructions: jumps only go forward.
	reach := make([]bool, n+1)
	reach[0] = true
	usesMem := false
	for pc, in := range prog {
		if !reach[pc] {
			continue
		}
		mark := func(to int) error {
			if to > n-1 {
				return fmt.Errorf("translating filter: instruction %d jumps out of the program", pc)
			}
			reach[to] = true
			return nil
		}
		var err error
		switch in.Code & 0x07 {
		case cRET:
		case cJMP:
			if in.Code&0xf0 == cJA {
				err = mark(pc + 1 + int(in.K))
			} else {
				err = mark(pc + 1 + int(in.Jt))
				if err == nil {
					err = mark(pc + 1 + int(in.Jf))
				}
			}
		default:
			err = mark(pc + 1)
		}
		if err != nil {
			return translation{}, err
		}
		if m := in.Code & 0xe0; (in.Code&0x07 == cLD || in.Code&0x07 == cLDX) && m == cMEM {
			usesMem = true
		}
	}

	var t translation
	emit := func(ins ...asm.Instruction) { t.insns = append(t.insns, ins...) }
	emit(asm.Mov.Reg(regCtx, asm.R1), asm.Mov.Imm(regA, 0), asm.Mov.Imm(regX, 0))
	if usesMem {
		for off := int16(memOff); off < 0; off += 8 {
			emit(asm.StoreMem(asm.RFP, off, regA, asm.DWord)) // A is 0
		}
	}
	label := func(pc int) string { return "c" + strconv.Itoa(pc) }
	reject := func() string { t.rejects = true; return labelReject }
	// load reads size bytes at the offset in R2 (64-bit, not negative) into
	// dst, converted to host order.
	load := func(dst asm.Register, size int) {
		sz := map[int]asm.Size{1: asm.Byte, 2: asm.Half, 4: asm.Word}[size]
		emit(
			asm.JGT.Imm(asm.R2, math.MaxInt32, reject()),
			asm.Mov.Reg(asm.R1, regCtx),
			asm.Mov.Reg(asm.R3, asm.RFP),
			asm.Add.Imm(asm.R3, bufOff),
			asm.Mov.Imm(asm.R4, int32(size)),
			asm.FnSkbLoadBytes.Call(),
			asm.JNE.Imm(asm.R0, 0, reject()),
			asm.LoadMem(dst, asm.RFP, bufOff, sz),
		)
		if size > 1 {
			emit(asm.HostTo(asm.BE, dst, sz))
		}
	}
	sizeOf := func(code uint16) int {
		switch code & 0x18 {
		case cH:
			return 2
		case cB:
			return 1
		}
		return 4
	}
	mem := func(k uint32) int16 { return int16(memOff + 4*int(k&15)) }

	for pc, in := range prog {
		if !reach[pc] {
			continue
		}
		start := len(t.insns)
		k := int32(in.K) // the bits of K, as eBPF immediates carry them
		bad := func() error {
			return fmt.Errorf("translating filter: instruction %d {%#04x, %d, %d, %#x} is not supported", pc, in.Code, in.Jt, in.Jf, in.K)
		}
		switch cls := in.Code & 0x07; cls {
		case cLD, cLDX:
			dst := regA
			if cls == cLDX {
				dst = regX
			}
			switch mode := in.Code & 0xe0; {
			case mode == cIMM:
				emit(asm.Mov.Imm32(dst, k))
			case mode == cLEN:
				emit(asm.LoadMem(dst, regCtx, 0, asm.Word)) // __sk_buff.len
			case mode == cMEM:
				emit(asm.LoadMem(dst, asm.RFP, mem(in.K), asm.Word))
			case mode == cABS && cls == cLD:
				emit(asm.Mov.Imm32(asm.R2, k))
				load(regA, sizeOf(in.Code))
			case mode == cIND && cls == cLD:
				emit(asm.Mov.Reg32(asm.R2, regX), asm.Mov.Imm32(asm.R1, k), asm.Add.Reg(asm.R2, asm.R1))
				load(regA, sizeOf(in.Code))
			case mode == cMSH && cls == cLDX:
				emit(asm.Mov.Imm32(asm.R2, k))
				load(regX, 1)
				emit(asm.And.Imm32(regX, 0xf), asm.LSh.Imm32(regX, 2))
			default:
				return translation{}, bad()
			}
		case cST:
			emit(asm.StoreMem(asm.RFP, mem(in.K), regA, asm.Word))
		case cSTX:
			emit(asm.StoreMem(asm.RFP, mem(in.K), regX, asm.Word))
		case cALU:
			op := in.Code & 0xf0
			if op == cNEG {
				emit(asm.Neg.Imm32(regA, 0))
				break
			}
			alu, ok := aluOps[op]
			if !ok {
				return translation{}, bad()
			}
			if in.Code&cX == cK {
				if (op == cDIV || op == cMOD) && in.K == 0 {
					emit(asm.Ja.Label(reject()))
				} else if (op == cLSH || op == cRSH) && in.K >= 32 {
					emit(asm.Mov.Imm32(regA, 0))
				} else {
					emit(alu.Imm32(regA, k))
				}
				break
			}
			switch op {
			case cDIV, cMOD:
				emit(asm.JEq.Imm32(regX, 0, reject()), alu.Reg32(regA, regX))
			case cLSH, cRSH:
				shift := label(pc) + "s"
				emit(
					asm.JLT.Imm32(regX, 32, shift),
					asm.Mov.Imm32(regA, 0),
					asm.Ja.Label(label(pc+1)),
					alu.Reg32(regA, regX).WithSymbol(shift),
				)
			default:
				emit(alu.Reg32(regA, regX))
			}
		case cJMP:
			op := in.Code & 0xf0
			if op == cJA {
				emit(asm.Ja.Label(label(pc + 1 + int(in.K))))
				break
			}
			jmp, ok := jumpOps[op]
			if !ok {
				return translation{}, bad()
			}
			tr, fl := pc+1+int(in.Jt), pc+1+int(in.Jf)
			if tr == fl {
				emit(asm.Ja.Label(label(tr)))
				break
			}
			if in.Code&cX == cX {
				emit(jmp.Reg32(regA, regX, label(tr)))
			} else {
				emit(jmp.Imm32(regA, k, label(tr)))
			}
			if fl != pc+1 {
				emit(asm.Ja.Label(label(fl)))
			}
		case cRET:
			switch {
			case in.Code&0x18 == cRetA:
				t.accepts = true
				emit(asm.JEq.Imm32(regA, 0, reject()), asm.Ja.Label(labelMatch))
			case in.K == 0:
				emit(asm.Ja.Label(reject()))
			default:
				t.accepts = true
				emit(asm.Ja.Label(labelMatch))
			}
		case cMISC:
			if in.Code&0xf8 == cTXA {
				emit(asm.Mov.Reg32(regA, regX))
			} else {
				emit(asm.Mov.Reg32(regX, regA))
			}
		}
		t.insns[start] = t.insns[start].WithSymbol(label(pc))
	}
	return t, nil
}

// filterProgram builds the entry program of a direction when the filter runs
// in the kernel: the translated filter, then a tail call into the capture
// program at index idx of tails on a match. It returns TC_ACT_UNSPEC (-1:
// continue, TCX_NEXT) on a rejected packet, as the capture program does.
func filterProgram(t translation, name string, tails *ebpf.Map, idx int32) (*ebpf.ProgramSpec, error) {
	insns := append(asm.Instructions(nil), t.insns...)
	if t.accepts {
		ld := asm.LoadMapPtr(asm.R2, 0)
		if err := ld.AssociateMap(tails); err != nil {
			return nil, err
		}
		insns = append(insns,
			asm.Mov.Reg(asm.R1, regCtx).WithSymbol(labelMatch),
			ld,
			asm.Mov.Imm(asm.R3, idx),
			asm.FnTailCall.Call(),
		)
	}
	// Reached on a reject, and when the tail call fails.
	ret := asm.Mov.Imm(asm.R0, -1)
	if t.rejects {
		ret = ret.WithSymbol(labelReject)
	}
	insns = append(insns, ret, asm.Return())
	return &ebpf.ProgramSpec{
		Name:         name,
		Type:         ebpf.SchedCLS,
		License:      "Dual MIT/GPL",
		Instructions: insns,
	}, nil
}
