package capfilter

import (
	"errors"
	"fmt"

	"github.com/gopacket/gopacket/layers"
)

// Instruction is one classic BPF instruction, laid out like the kernel's
// struct sock_filter (golang.org/x/sys/unix.SockFilter) and libpcap's struct bpf_insn.
type Instruction struct {
	Code   uint16
	Jt, Jf uint8
	K      uint32
}

// Filter is a compiled filter. It is immutable and safe for concurrent use.
type Filter struct {
	expr     string
	linkType layers.LinkType
	prog     []Instruction
}

// ErrNoCompiler is wrapped by Compile's error in builds that cannot compile filter
// expressions (built without cgo, or for a platform without libpcap).
var ErrNoCompiler = errors.New("this build of kubectl-shark has no BPF compiler")

// String returns the expression the filter was compiled from ("" for FromInstructions).
func (f *Filter) String() string { return f.expr }

// LinkType returns the link type the program expects packets to start with.
func (f *Filter) LinkType() layers.LinkType { return f.linkType }

// Instructions returns a copy of the program, e.g. to attach it to a packet socket with
// SO_ATTACH_FILTER.
func (f *Filter) Instructions() []Instruction { return append([]Instruction(nil), f.prog...) }

// FromInstructions wraps a program compiled elsewhere (for example by a sniffer built with
// cgo), after checking it the way the kernel and libpcap do: known opcodes, forward
// jumps inside the program, scratch memory indexes below 16, no division by a constant
// zero or shift by a constant of 32 or more, and a return as the last instruction.
func FromInstructions(prog []Instruction, linkType layers.LinkType) (*Filter, error) {
	if err := validate(prog); err != nil {
		return nil, fmt.Errorf("loading BPF program: %w", err)
	}
	return &Filter{linkType: linkType, prog: append([]Instruction(nil), prog...)}, nil
}

// Instruction classes and fields (linux/filter.h, pcap/bpf.h).
const (
	clsLD   = 0x00
	clsLDX  = 0x01
	clsST   = 0x02
	clsSTX  = 0x03
	clsALU  = 0x04
	clsJMP  = 0x05
	clsRET  = 0x06
	clsMISC = 0x07

	szW = 0x00
	szH = 0x08
	szB = 0x10

	modeIMM = 0x00
	modeABS = 0x20
	modeIND = 0x40
	modeMEM = 0x60
	modeLEN = 0x80
	modeMSH = 0xa0

	opADD = 0x00
	opSUB = 0x10
	opMUL = 0x20
	opDIV = 0x30
	opOR  = 0x40
	opAND = 0x50
	opLSH = 0x60
	opRSH = 0x70
	opNEG = 0x80
	opMOD = 0x90
	opXOR = 0xa0

	opJA   = 0x00
	opJEQ  = 0x10
	opJGT  = 0x20
	opJGE  = 0x30
	opJSET = 0x40

	srcK = 0x00
	srcX = 0x08

	retK = 0x00
	retA = 0x10

	miscTAX = 0x00
	miscTXA = 0x80

	memWords = 16
	maxInsns = 4096 // BPF_MAXINSNS of the Linux kernel
)

func validate(prog []Instruction) error {
	if len(prog) == 0 || len(prog) > maxInsns {
		return fmt.Errorf("program of %d instructions (must be 1 to %d)", len(prog), maxInsns)
	}
	for pc, ins := range prog {
		bad := func(why string) error {
			return fmt.Errorf("instruction %d {%#04x, %d, %d, %#x}: %s", pc, ins.Code, ins.Jt, ins.Jf, ins.K, why)
		}
		left := uint64(len(prog) - pc - 1) // instructions after this one
		switch ins.Code & 0x07 {
		case clsLD:
			switch ins.Code {
			case clsLD | szW | modeIMM, clsLD | szW | modeLEN,
				clsLD | szW | modeABS, clsLD | szH | modeABS, clsLD | szB | modeABS,
				clsLD | szW | modeIND, clsLD | szH | modeIND, clsLD | szB | modeIND:
			case clsLD | szW | modeMEM:
				if ins.K >= memWords {
					return bad("scratch memory index out of range")
				}
			default:
				return bad("unknown load")
			}
		case clsLDX:
			switch ins.Code {
			case clsLDX | szW | modeIMM, clsLDX | szW | modeLEN, clsLDX | szB | modeMSH:
			case clsLDX | szW | modeMEM:
				if ins.K >= memWords {
					return bad("scratch memory index out of range")
				}
			default:
				return bad("unknown load")
			}
		case clsST, clsSTX:
			if ins.Code&^0x07 != 0 {
				return bad("unknown store")
			}
			if ins.K >= memWords {
				return bad("scratch memory index out of range")
			}
		case clsALU:
			op, src := ins.Code&0xf0, ins.Code&0x08
			if ins.Code&^0xff != 0 || op > opXOR || op == opNEG && src != 0 {
				return bad("unknown ALU operation")
			}
			if (op == opDIV || op == opMOD) && src == srcK && ins.K == 0 {
				return bad("division by zero")
			}
			if (op == opLSH || op == opRSH) && src == srcK && ins.K >= 32 {
				return bad("shift by 32 or more") // as the kernel's checker says
			}
		case clsJMP:
			op := ins.Code & 0xf0
			if ins.Code&^0xff != 0 || op > opJSET || op == opJA && ins.Code&0x08 != 0 {
				return bad("unknown jump")
			}
			if op == opJA {
				if uint64(ins.K) >= left {
					return bad("jump out of the program")
				}
			} else if uint64(ins.Jt) >= left || uint64(ins.Jf) >= left {
				return bad("jump out of the program")
			}
		case clsRET:
			// (BPF_RET|BPF_X exists in BSD but neither Linux nor libpcap runs it.)
			if c := ins.Code; c != clsRET|retK && c != clsRET|retA {
				return bad("unknown return")
			}
		case clsMISC:
			if c := ins.Code; c != clsMISC|miscTAX && c != clsMISC|miscTXA {
				return bad("unknown operation")
			}
		}
	}
	if prog[len(prog)-1].Code&0x07 != clsRET {
		return errors.New("the last instruction is not a return")
	}
	return nil
}

// Match runs the filter on a packet: data is the captured bytes (starting with the
// link-layer header of the filter's link type) and length the packet's length on the
// wire. It returns whether the program accepts the packet. Like libpcap's bpf_filter, a
// load beyond the captured bytes rejects the packet.
func (f *Filter) Match(data []byte, length int) bool {
	return run(f.prog, data, uint32(min(max(length, 0), int(^uint32(0))))) != 0
}

// run interprets a validated program and returns its result (the number of bytes to
// keep; 0 rejects).
func run(prog []Instruction, p []byte, wirelen uint32) uint32 {
	var a, x uint32
	var mem [memWords]uint32
	n := uint64(len(p))
	for pc := 0; pc < len(prog); pc++ {
		ins := &prog[pc]
		switch ins.Code {
		case clsRET | retK:
			return ins.K
		case clsRET | retA:
			return a

		case clsLD | szW | modeABS:
			k := uint64(ins.K)
			if k+4 > n {
				return 0
			}
			a = uint32(p[k])<<24 | uint32(p[k+1])<<16 | uint32(p[k+2])<<8 | uint32(p[k+3])
		case clsLD | szH | modeABS:
			k := uint64(ins.K)
			if k+2 > n {
				return 0
			}
			a = uint32(p[k])<<8 | uint32(p[k+1])
		case clsLD | szB | modeABS:
			k := uint64(ins.K)
			if k >= n {
				return 0
			}
			a = uint32(p[k])
		case clsLD | szW | modeIND:
			k := uint64(x) + uint64(ins.K)
			if k+4 > n {
				return 0
			}
			a = uint32(p[k])<<24 | uint32(p[k+1])<<16 | uint32(p[k+2])<<8 | uint32(p[k+3])
		case clsLD | szH | modeIND:
			k := uint64(x) + uint64(ins.K)
			if k+2 > n {
				return 0
			}
			a = uint32(p[k])<<8 | uint32(p[k+1])
		case clsLD | szB | modeIND:
			k := uint64(x) + uint64(ins.K)
			if k >= n {
				return 0
			}
			a = uint32(p[k])
		case clsLD | szW | modeLEN:
			a = wirelen
		case clsLDX | szW | modeLEN:
			x = wirelen
		case clsLD | szW | modeIMM:
			a = ins.K
		case clsLDX | szW | modeIMM:
			x = ins.K
		case clsLD | szW | modeMEM:
			a = mem[ins.K&(memWords-1)]
		case clsLDX | szW | modeMEM:
			x = mem[ins.K&(memWords-1)]
		case clsLDX | szB | modeMSH:
			k := uint64(ins.K)
			if k >= n {
				return 0
			}
			x = uint32(p[k]&0xf) << 2
		case clsST:
			mem[ins.K&(memWords-1)] = a
		case clsSTX:
			mem[ins.K&(memWords-1)] = x

		case clsJMP | opJA:
			pc += int(ins.K)
		case clsJMP | opJEQ | srcK:
			pc += jump(a == ins.K, ins)
		case clsJMP | opJGT | srcK:
			pc += jump(a > ins.K, ins)
		case clsJMP | opJGE | srcK:
			pc += jump(a >= ins.K, ins)
		case clsJMP | opJSET | srcK:
			pc += jump(a&ins.K != 0, ins)
		case clsJMP | opJEQ | srcX:
			pc += jump(a == x, ins)
		case clsJMP | opJGT | srcX:
			pc += jump(a > x, ins)
		case clsJMP | opJGE | srcX:
			pc += jump(a >= x, ins)
		case clsJMP | opJSET | srcX:
			pc += jump(a&x != 0, ins)

		case clsALU | opADD | srcK:
			a += ins.K
		case clsALU | opSUB | srcK:
			a -= ins.K
		case clsALU | opMUL | srcK:
			a *= ins.K
		case clsALU | opDIV | srcK:
			a /= ins.K // validate rejects a constant 0
		case clsALU | opMOD | srcK:
			a %= ins.K
		case clsALU | opAND | srcK:
			a &= ins.K
		case clsALU | opOR | srcK:
			a |= ins.K
		case clsALU | opXOR | srcK:
			a ^= ins.K
		case clsALU | opLSH | srcK:
			a = shl(a, ins.K)
		case clsALU | opRSH | srcK:
			a = shr(a, ins.K)
		case clsALU | opADD | srcX:
			a += x
		case clsALU | opSUB | srcX:
			a -= x
		case clsALU | opMUL | srcX:
			a *= x
		case clsALU | opDIV | srcX:
			if x == 0 {
				return 0
			}
			a /= x
		case clsALU | opMOD | srcX:
			if x == 0 {
				return 0
			}
			a %= x
		case clsALU | opAND | srcX:
			a &= x
		case clsALU | opOR | srcX:
			a |= x
		case clsALU | opXOR | srcX:
			a ^= x
		case clsALU | opLSH | srcX:
			a = shl(a, x)
		case clsALU | opRSH | srcX:
			a = shr(a, x)
		case clsALU | opNEG:
			a = -a

		case clsMISC | miscTAX:
			x = a
		case clsMISC | miscTXA:
			a = x
		default:
			return 0 // unreachable for validated programs
		}
	}
	return 0
}

func jump(cond bool, ins *Instruction) int {
	if cond {
		return int(ins.Jt)
	}
	return int(ins.Jf)
}

// Shifts by 32 or more give 0, as in libpcap's bpf_filter (C leaves them undefined).
func shl(a, s uint32) uint32 {
	if s >= 32 {
		return 0
	}
	return a << s
}

func shr(a, s uint32) uint32 {
	if s >= 32 {
		return 0
	}
	return a >> s
}
