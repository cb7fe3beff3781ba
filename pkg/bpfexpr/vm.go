package bpfexpr

import (
	"encoding/binary"
	"fmt"
)

// vmOp is a dense renumbering of the classic BPF opcodes this package
// emits, so that the interpreter's switch compiles to a jump table.
type vmOp uint8

const (
	vLdAbsW vmOp = iota
	vLdAbsH
	vLdAbsB
	vLdIndW
	vLdIndH
	vLdIndB
	vLdLen
	vLdImm
	vLdMem
	vLdxImm
	vLdxMem
	vLdxMsh
	vSt
	vStx
	vAddK
	vSubK
	vMulK
	vDivK
	vModK
	vAndK
	vOrK
	vXorK
	vLshK
	vRshK
	vAddX
	vSubX
	vMulX
	vDivX
	vModX
	vAndX
	vOrX
	vXorX
	vLshX
	vRshX
	vNeg
	vJa
	vJeqK
	vJgtK
	vJgeK
	vJsetK
	vJeqX
	vJgtX
	vJgeX
	vJsetX
	vRetK
	vRetA
	vTax
	vTxa
)

type vmInsn struct {
	op     vmOp
	jt, jf uint8
	k      uint32
}

var opcodes = map[uint16]vmOp{
	opLD | mABS | szW: vLdAbsW, opLD | mABS | szH: vLdAbsH, opLD | mABS | szB: vLdAbsB,
	opLD | mIND | szW: vLdIndW, opLD | mIND | szH: vLdIndH, opLD | mIND | szB: vLdIndB,
	opLD | mLEN | szW: vLdLen, opLD | mIMM: vLdImm, opLD | mMEM: vLdMem,
	opLDX | mIMM: vLdxImm, opLDX | mMEM: vLdxMem, opLDX | mMSH | szB: vLdxMsh,
	opST: vSt, opSTX: vStx,
	opALU | aluADD | srcK: vAddK, opALU | aluSUB | srcK: vSubK, opALU | aluMUL | srcK: vMulK,
	opALU | aluDIV | srcK: vDivK, opALU | aluMOD | srcK: vModK, opALU | aluAND | srcK: vAndK,
	opALU | aluOR | srcK: vOrK, opALU | aluXOR | srcK: vXorK, opALU | aluLSH | srcK: vLshK,
	opALU | aluRSH | srcK: vRshK,
	opALU | aluADD | srcX: vAddX, opALU | aluSUB | srcX: vSubX, opALU | aluMUL | srcX: vMulX,
	opALU | aluDIV | srcX: vDivX, opALU | aluMOD | srcX: vModX, opALU | aluAND | srcX: vAndX,
	opALU | aluOR | srcX: vOrX, opALU | aluXOR | srcX: vXorX, opALU | aluLSH | srcX: vLshX,
	opALU | aluRSH | srcX: vRshX, opALU | aluNEG: vNeg,
	opJMP | jJA:         vJa,
	opJMP | jJEQ | srcK: vJeqK, opJMP | jJGT | srcK: vJgtK, opJMP | jJGE | srcK: vJgeK,
	opJMP | jJSET | srcK: vJsetK,
	opJMP | jJEQ | srcX:  vJeqX, opJMP | jJGT | srcX: vJgtX, opJMP | jJGE | srcX: vJgeX,
	opJMP | jJSET | srcX: vJsetX,
	opRET | retK:         vRetK, opRET | 0x10: vRetA,
	opMISC | miscTAX: vTax, opMISC | miscTXA: vTxa,
}

// decode checks a program the way the kernel does (known opcodes, jumps
// forward and inside the program, scratch memory in range, constant
// divisors not zero, a return at the end) and translates it for run.
func decode(raw []insnRaw) ([]vmInsn, error) {
	if len(raw) == 0 || len(raw) > maxInsns {
		return nil, fmt.Errorf("%w: %d instructions", errBadProgram, len(raw))
	}
	out := make([]vmInsn, len(raw))
	for i, in := range raw {
		op, ok := opcodes[in.op]
		if !ok {
			return nil, fmt.Errorf("%w: unknown opcode %#x at %d", errBadProgram, in.op, i)
		}
		left := len(raw) - (i + 1)
		switch op {
		case vJa:
			if uint64(in.k) >= uint64(left) {
				return nil, fmt.Errorf("%w: jump out of program at %d", errBadProgram, i)
			}
		case vJeqK, vJgtK, vJgeK, vJsetK, vJeqX, vJgtX, vJgeX, vJsetX:
			if int(in.jt) >= left || int(in.jf) >= left {
				return nil, fmt.Errorf("%w: jump out of program at %d", errBadProgram, i)
			}
		case vLdMem, vLdxMem, vSt, vStx:
			if in.k >= memWords {
				return nil, fmt.Errorf("%w: scratch memory M[%d] at %d", errBadProgram, in.k, i)
			}
		case vDivK, vModK:
			if in.k == 0 {
				return nil, fmt.Errorf("%w: division by zero at %d", errBadProgram, i)
			}
		}
		out[i] = vmInsn{op: op, jt: in.jt, jf: in.jf, k: in.k}
	}
	if op := out[len(out)-1].op; op != vRetK && op != vRetA {
		return nil, fmt.Errorf("%w: does not end with a return", errBadProgram)
	}
	return out, nil
}

// run interprets a decoded program like the kernel's classic BPF: a load
// outside the packet or a division by zero ends the program with 0;
// shift counts are taken modulo 32.
func run(prog []vmInsn, p []byte, wirelen uint32) uint32 {
	var a, x uint32
	var mem [memWords]uint32
	n := uint64(len(p))
	for pc := 0; pc < len(prog); pc++ {
		in := &prog[pc]
		switch in.op {
		case vLdAbsW:
			k := uint64(in.k)
			if k+4 > n {
				return 0
			}
			a = binary.BigEndian.Uint32(p[k:])
		case vLdAbsH:
			k := uint64(in.k)
			if k+2 > n {
				return 0
			}
			a = uint32(binary.BigEndian.Uint16(p[k:]))
		case vLdAbsB:
			k := uint64(in.k)
			if k >= n {
				return 0
			}
			a = uint32(p[k])
		case vLdIndW:
			k := uint64(x) + uint64(in.k)
			if k+4 > n {
				return 0
			}
			a = binary.BigEndian.Uint32(p[k:])
		case vLdIndH:
			k := uint64(x) + uint64(in.k)
			if k+2 > n {
				return 0
			}
			a = uint32(binary.BigEndian.Uint16(p[k:]))
		case vLdIndB:
			k := uint64(x) + uint64(in.k)
			if k >= n {
				return 0
			}
			a = uint32(p[k])
		case vLdLen:
			a = wirelen
		case vLdImm:
			a = in.k
		case vLdMem:
			a = mem[in.k&(memWords-1)]
		case vLdxImm:
			x = in.k
		case vLdxMem:
			x = mem[in.k&(memWords-1)]
		case vLdxMsh:
			k := uint64(in.k)
			if k >= n {
				return 0
			}
			x = uint32(p[k]&0xf) << 2
		case vSt:
			mem[in.k&(memWords-1)] = a
		case vStx:
			mem[in.k&(memWords-1)] = x
		case vAddK:
			a += in.k
		case vSubK:
			a -= in.k
		case vMulK:
			a *= in.k
		case vDivK:
			a /= in.k
		case vModK:
			a %= in.k
		case vAndK:
			a &= in.k
		case vOrK:
			a |= in.k
		case vXorK:
			a ^= in.k
		case vLshK:
			a <<= in.k & 31
		case vRshK:
			a >>= in.k & 31
		case vAddX:
			a += x
		case vSubX:
			a -= x
		case vMulX:
			a *= x
		case vDivX:
			if x == 0 {
				return 0
			}
			a /= x
		case vModX:
			if x == 0 {
				return 0
			}
			a %= x
		case vAndX:
			a &= x
		case vOrX:
			a |= x
		case vXorX:
			a ^= x
		case vLshX:
			a <<= x & 31
		case vRshX:
			a >>= x & 31
		case vNeg:
			a = -a
		case vJa:
			pc += int(in.k)
		case vJeqK:
			if a == in.k {
				pc += int(in.jt)
			} else {
				pc += int(in.jf)
			}
		case vJgtK:
			if a > in.k {
				pc += int(in.jt)
			} else {
				pc += int(in.jf)
			}
		case vJgeK:
			if a >= in.k {
				pc += int(in.jt)
			} else {
				pc += int(in.jf)
			}
		case vJsetK:
			if a&in.k != 0 {
				pc += int(in.jt)
			} else {
				pc += int(in.jf)
			}
		case vJeqX:
			if a == x {
				pc += int(in.jt)
			} else {
				pc += int(in.jf)
			}
		case vJgtX:
			if a > x {
				pc += int(in.jt)
			} else {
				pc += int(in.jf)
			}
		case vJgeX:
			if a >= x {
				pc += int(in.jt)
			} else {
				pc += int(in.jf)
			}
		case vJsetX:
			if a&x != 0 {
				pc += int(in.jt)
			} else {
				pc += int(in.jf)
			}
		case vRetK:
			return in.k
		case vRetA:
			return a
		case vTax:
			x = a
		case vTxa:
			a = x
		}
	}
	return 0
}
