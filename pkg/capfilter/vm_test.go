package capfilter

import (
	"strings"
	"testing"

	"github.com/gopacket/gopacket/layers"
)

// Mnemonic constructors for hand-written programs.
func stmt(code uint16, k uint32) Instruction { return Instruction{Code: code, K: k} }
func jmp(code uint16, k uint32, jt, jf uint8) Instruction {
	return Instruction{Code: code, Jt: jt, Jf: jf, K: k}
}

func TestRun(t *testing.T) {
	pkt := []byte{0x45, 0x00, 0x01, 0x02, 0xde, 0xad, 0xbe, 0xef, 0x0f}
	for _, tc := range []struct {
		name string
		prog []Instruction
		want uint32
	}{
		{"ret k", []Instruction{stmt(clsRET|retK, 7)}, 7},
		{"ld w abs", []Instruction{stmt(clsLD|szW|modeABS, 4), stmt(clsRET|retA, 0)}, 0xdeadbeef},
		{"ld h abs", []Instruction{stmt(clsLD|szH|modeABS, 2), stmt(clsRET|retA, 0)}, 0x0102},
		{"ld b abs", []Instruction{stmt(clsLD|szB|modeABS, 8), stmt(clsRET|retA, 0)}, 0x0f},
		{"ld w abs past the end rejects", []Instruction{stmt(clsLD|szW|modeABS, 6), stmt(clsRET|retK, 1)}, 0},
		{"ld b abs at 2^32-1 rejects", []Instruction{stmt(clsLD|szB|modeABS, 0xffffffff), stmt(clsRET|retK, 1)}, 0},
		{"ld ind", []Instruction{stmt(clsLDX|szW|modeIMM, 3), stmt(clsLD|szH|modeIND, 1), stmt(clsRET|retA, 0)}, 0xdead},
		{"ld ind wrapping 2^32 rejects", []Instruction{stmt(clsLDX|szW|modeIMM, 0xffffffff), stmt(clsLD|szB|modeIND, 2), stmt(clsRET|retK, 1)}, 0},
		{"ldx msh", []Instruction{stmt(clsLDX|szB|modeMSH, 0), stmt(clsMISC|miscTXA, 0), stmt(clsRET|retA, 0)}, 20},
		{"len", []Instruction{stmt(clsLD|szW|modeLEN, 0), stmt(clsRET|retA, 0)}, 1500},
		{"ldx len", []Instruction{stmt(clsLDX|szW|modeLEN, 0), stmt(clsMISC|miscTXA, 0), stmt(clsRET|retA, 0)}, 1500},
		{"scratch memory", []Instruction{stmt(clsLD|szW|modeIMM, 5), stmt(clsST, 15), stmt(clsLDX|szW|modeMEM, 15), stmt(clsLD|szW|modeIMM, 0), stmt(clsSTX, 3), stmt(clsLD|szW|modeMEM, 3), stmt(clsRET|retA, 0)}, 5},
		{"lsh k", []Instruction{stmt(clsLD|szW|modeIMM, 0xdefc0), stmt(clsALU|opLSH|srcK, 9), stmt(clsRET|retA, 0)}, 0x1bdf8000},
		{"lsh x 33 is 0", []Instruction{stmt(clsLD|szW|modeIMM, 1), stmt(clsLDX|szW|modeIMM, 33), stmt(clsALU|opLSH|srcX, 0), stmt(clsALU|opADD|srcK, 2), stmt(clsRET|retA, 0)}, 2},
		{"rsh x", []Instruction{stmt(clsLD|szW|modeIMM, 0x80), stmt(clsLDX|szW|modeIMM, 4), stmt(clsALU|opRSH|srcX, 0), stmt(clsRET|retA, 0)}, 8},
		{"div x by 0 rejects", []Instruction{stmt(clsLD|szW|modeIMM, 10), stmt(clsLDX|szW|modeIMM, 0), stmt(clsALU|opDIV|srcX, 0), stmt(clsRET|retK, 9)}, 0},
		{"mod x by 0 rejects", []Instruction{stmt(clsLD|szW|modeIMM, 10), stmt(clsALU|opMOD|srcX, 0), stmt(clsRET|retK, 9)}, 0},
		{"alu k", []Instruction{stmt(clsLD|szW|modeIMM, 100), stmt(clsALU|opSUB|srcK, 1), stmt(clsALU|opMUL|srcK, 3), stmt(clsALU|opDIV|srcK, 2), stmt(clsALU|opMOD|srcK, 100), stmt(clsALU|opOR|srcK, 0x100), stmt(clsALU|opAND|srcK, 0x1f0), stmt(clsALU|opXOR|srcK, 0x3), stmt(clsRET|retA, 0)}, (((100-1)*3/2)%100|0x100)&0x1f0 ^ 3},
		{"neg", []Instruction{stmt(clsLD|szW|modeIMM, 1), stmt(clsALU|opNEG, 0), stmt(clsRET|retA, 0)}, 0xffffffff},
		{"jeq taken", []Instruction{stmt(clsLD|szB|modeABS, 0), jmp(clsJMP|opJEQ|srcK, 0x45, 0, 1), stmt(clsRET|retK, 1), stmt(clsRET|retK, 2)}, 1},
		{"jgt not taken", []Instruction{stmt(clsLD|szB|modeABS, 0), jmp(clsJMP|opJGT|srcK, 0x45, 0, 1), stmt(clsRET|retK, 1), stmt(clsRET|retK, 2)}, 2},
		{"jge x", []Instruction{stmt(clsLDX|szW|modeIMM, 0x45), stmt(clsLD|szB|modeABS, 0), jmp(clsJMP|opJGE|srcX, 0, 0, 1), stmt(clsRET|retK, 1), stmt(clsRET|retK, 2)}, 1},
		{"jset", []Instruction{stmt(clsLD|szB|modeABS, 8), jmp(clsJMP|opJSET|srcK, 0x10, 1, 0), stmt(clsRET|retK, 3), stmt(clsRET|retK, 4)}, 3},
		{"ja", []Instruction{stmt(clsJMP|opJA, 1), stmt(clsRET|retK, 1), stmt(clsRET|retK, 2)}, 2},
		{"tax", []Instruction{stmt(clsLD|szW|modeIMM, 6), stmt(clsMISC|miscTAX, 0), stmt(clsLD|szW|modeIMM, 0), stmt(clsALU|opADD|srcX, 0), stmt(clsRET|retA, 0)}, 6},
	} {
		if err := validate(tc.prog); err != nil {
			t.Errorf("%s: validate: %v", tc.name, err)
			continue
		}
		if got := run(tc.prog, pkt, 1500); got != tc.want {
			t.Errorf("%s: run = %#x, want %#x", tc.name, got, tc.want)
		}
	}
}

func TestFromInstructions(t *testing.T) {
	ok := []Instruction{stmt(clsLD|szH|modeABS, 12), jmp(clsJMP|opJEQ|srcK, 0x0800, 0, 1), stmt(clsRET|retK, 262144), stmt(clsRET|retK, 0)}
	f, err := FromInstructions(ok, layers.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	ipv4 := append(make([]byte, 12), 0x08, 0x00)
	if !f.Match(ipv4, 60) || f.Match(ipv4[:13], 60) || f.LinkType() != layers.LinkTypeEthernet || f.String() != "" {
		t.Error("IPv4 ethertype program misbehaves")
	}
	prog := f.Instructions()
	prog[0].K = 0 // a copy: the filter is unchanged
	if !f.Match(ipv4, 60) {
		t.Error("Instructions returned the filter's own slice")
	}
	for _, tc := range []struct {
		prog []Instruction
		want string
	}{
		{nil, "program of 0 instructions (must be 1 to 4096)"},
		{make([]Instruction, 4097), "program of 4097 instructions (must be 1 to 4096)"},
		{[]Instruction{stmt(clsLD|szW|modeABS, 0)}, "the last instruction is not a return"},
		{[]Instruction{jmp(clsJMP|opJEQ|srcK, 0, 1, 0), stmt(clsRET|retK, 0)}, "instruction 0 {0x0015, 1, 0, 0x0}: jump out of the program"},
		{[]Instruction{stmt(clsJMP|opJA, 1), stmt(clsRET|retK, 0)}, "instruction 0 {0x0005, 0, 0, 0x1}: jump out of the program"},
		{[]Instruction{stmt(clsST, 16), stmt(clsRET|retK, 0)}, "instruction 0 {0x0002, 0, 0, 0x10}: scratch memory index out of range"},
		{[]Instruction{stmt(clsLD|szW|modeMEM, 99), stmt(clsRET|retK, 0)}, "instruction 0 {0x0060, 0, 0, 0x63}: scratch memory index out of range"},
		{[]Instruction{stmt(clsALU|opDIV|srcK, 0), stmt(clsRET|retK, 0)}, "instruction 0 {0x0034, 0, 0, 0x0}: division by zero"},
		{[]Instruction{stmt(clsALU|opLSH|srcK, 32), stmt(clsRET|retK, 0)}, "instruction 0 {0x0064, 0, 0, 0x20}: shift by 32 or more"},
		{[]Instruction{stmt(clsALU|0xb0, 0), stmt(clsRET|retK, 0)}, "instruction 0 {0x00b4, 0, 0, 0x0}: unknown ALU operation"},
		{[]Instruction{stmt(clsLD|0x18|modeABS, 0), stmt(clsRET|retK, 0)}, "instruction 0 {0x0038, 0, 0, 0x0}: unknown load"},
		{[]Instruction{stmt(clsRET|0x08, 0)}, "instruction 0 {0x000e, 0, 0, 0x0}: unknown return"},
		{[]Instruction{stmt(0x1007, 0), stmt(clsRET|retK, 0)}, "instruction 0 {0x1007, 0, 0, 0x0}: unknown operation"},
	} {
		_, err := FromInstructions(tc.prog, layers.LinkTypeEthernet)
		if err == nil || err.Error() != "loading BPF program: "+tc.want {
			t.Errorf("FromInstructions error\n got %v\nwant loading BPF program: %s", err, tc.want)
		}
	}
	if !strings.Contains(ErrNoCompiler.Error(), "no BPF compiler") {
		t.Error(ErrNoCompiler)
	}
}
