//go:build cgo && unix

package capfilter

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcap"

	"github.com/kubectl-shark/kubectl-shark/pkg/export"
)

// Every opcode the interpreter runs; random programs draw from it.
var opcodes = []uint16{
	clsLD | szW | modeIMM, clsLD | szW | modeLEN, clsLD | szW | modeMEM,
	clsLD | szW | modeABS, clsLD | szH | modeABS, clsLD | szB | modeABS,
	clsLD | szW | modeIND, clsLD | szH | modeIND, clsLD | szB | modeIND,
	clsLDX | szW | modeIMM, clsLDX | szW | modeLEN, clsLDX | szW | modeMEM, clsLDX | szB | modeMSH,
	clsST, clsSTX,
	clsALU | opADD | srcK, clsALU | opSUB | srcK, clsALU | opMUL | srcK, clsALU | opDIV | srcK,
	clsALU | opMOD | srcK, clsALU | opAND | srcK, clsALU | opOR | srcK, clsALU | opXOR | srcK,
	clsALU | opLSH | srcK, clsALU | opRSH | srcK,
	clsALU | opADD | srcX, clsALU | opSUB | srcX, clsALU | opMUL | srcX, clsALU | opDIV | srcX,
	clsALU | opMOD | srcX, clsALU | opAND | srcX, clsALU | opOR | srcX, clsALU | opXOR | srcX,
	clsALU | opLSH | srcX, clsALU | opRSH | srcX, clsALU | opNEG,
	clsJMP | opJA, clsJMP | opJEQ | srcK, clsJMP | opJGT | srcK, clsJMP | opJGE | srcK, clsJMP | opJSET | srcK,
	clsJMP | opJEQ | srcX, clsJMP | opJGT | srcX, clsJMP | opJGE | srcX, clsJMP | opJSET | srcX,
	clsRET | retK, clsRET | retA, clsMISC | miscTAX, clsMISC | miscTXA,
}

// program turns fuzz bytes into a valid program: 7 bytes per instruction. It starts by
// zeroing the scratch memory: libpcap leaves it uninitialized (the kernel rejects
// programs reading a slot before writing it), the interpreter zeroes it.
func program(b []byte) []Instruction {
	prog := []Instruction{{Code: clsLD | szW | modeIMM}}
	for i := range memWords {
		prog = append(prog, Instruction{Code: clsST, K: uint32(i)})
	}
	for len(b) >= 7 && len(prog) < 80 {
		code := opcodes[int(b[0])%len(opcodes)]
		k := binary.LittleEndian.Uint32(b[3:])
		switch b[0] >> 6 { // mostly small constants: offsets into the packet, shifts, memory
		case 0, 1:
			k %= 64
		case 2:
			k %= 16
		}
		prog = append(prog, Instruction{Code: code, Jt: b[1] % 8, Jf: b[2] % 8, K: k})
		b = b[7:]
	}
	prog = append(prog, Instruction{Code: clsRET | retA})
	// Repair what validate would reject: jumps past the end, memory, division by zero.
	for pc := range prog {
		in := &prog[pc]
		left := uint8(min(len(prog)-pc-1, 255))
		if left > 0 {
			in.Jt %= left
			in.Jf %= left
		}
		switch {
		case in.Code == clsJMP|opJA:
			in.K %= uint32(max(left, 1))
		case in.Code == clsST || in.Code == clsSTX || in.Code == clsLD|szW|modeMEM || in.Code == clsLDX|szW|modeMEM:
			in.K %= memWords
		case (in.Code == clsALU|opDIV|srcK || in.Code == clsALU|opMOD|srcK) && in.K == 0:
			in.K = 3
		case in.Code == clsALU|opLSH|srcK || in.Code == clsALU|opRSH|srcK:
			in.K %= 32
		}
	}
	return prog
}

func libpcapMatch(t testing.TB, prog []Instruction, data []byte, length int) bool {
	insns := make([]pcap.BPFInstruction, len(prog))
	for i, in := range prog {
		insns[i] = pcap.BPFInstruction{Code: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	bpf, err := (*pcap.Handle)(nil).NewBPFInstructionFilter(insns)
	if err != nil {
		t.Fatal(err)
	}
	return bpf.Matches(gopacket.CaptureInfo{Timestamp: time.Unix(1, 0), CaptureLength: len(data), Length: length}, data)
}

// Random programs on random packets: the pure-Go interpreter agrees with libpcap's
// bpf_filter (pcap_offline_filter).
func TestMatchAgreesWithLibpcap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	n := 20000
	if testing.Short() {
		n = 2000
	}
	for i := range n {
		code := make([]byte, 7*(1+rng.IntN(20)))
		for j := range code {
			code[j] = byte(rng.Uint32())
		}
		data := make([]byte, rng.IntN(80))
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		checkAgainstLibpcap(t, code, data, uint16(rng.Uint32()))
		_ = i
	}
}

func checkAgainstLibpcap(t *testing.T, code, data []byte, length uint16) {
	t.Helper()
	prog := program(code)
	if err := validate(prog); err != nil {
		t.Fatalf("program() made an invalid program: %v\n%v", err, prog)
	}
	f := &Filter{prog: prog}
	if got, want := f.Match(data, int(length)), libpcapMatch(t, prog, data, int(length)); got != want {
		t.Fatalf("Match = %v, libpcap %v\nprogram %v\npacket % x (length %d)", got, want, prog, data, length)
	}
}

func FuzzMatch(f *testing.F) {
	for _, expr := range []string{"tcp port 80", "vlan and ip6", "tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420", "len > 100"} {
		flt, err := Compile(expr, layers.LinkTypeEthernet, 0)
		if err != nil {
			f.Fatal(err)
		}
		var code []byte
		for _, in := range flt.Instructions() {
			idx := 0
			for i, op := range opcodes {
				if op == in.Code {
					idx = i
				}
			}
			code = append(code, byte(idx), in.Jt, in.Jf)
			code = binary.LittleEndian.AppendUint32(code, in.K)
		}
		f.Add(code, bytes.Repeat([]byte{0x45, 0x08, 0x00, 0x50}, 20), uint16(80))
	}
	f.Fuzz(func(t *testing.T, code, data []byte, length uint16) {
		checkAgainstLibpcap(t, code, data, length)
	})
}

// benchmarkPackets are lo.pcap's packets: real loopback HTTP, DNS and ICMP.
func benchmarkPackets(b *testing.B) []export.Packet {
	r, err := export.OpenFile(filepath.Join("..", "export", "testdata", "lo.pcap"))
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	var pkts []export.Packet
	for {
		p, err := r.Next()
		if err == io.EOF {
			return pkts
		}
		if err != nil {
			b.Fatal(err)
		}
		p.Data = bytes.Clone(p.Data)
		pkts = append(pkts, p)
	}
}

const benchExpr = "tcp port 80 and (src host 127.0.0.1) or (ip6 and tcp[tcpflags] & tcp-syn != 0)"

func BenchmarkMatch(b *testing.B) {
	pkts := benchmarkPackets(b)
	f, err := Compile(benchExpr, layers.LinkTypeEthernet, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p := &pkts[i%len(pkts)]
		f.Match(p.Data, p.Length)
	}
}

// The same through libpcap (cgo per packet), for comparison.
func BenchmarkMatchLibpcap(b *testing.B) {
	pkts := benchmarkPackets(b)
	bpf, err := pcap.NewBPF(layers.LinkTypeEthernet, 262144, benchExpr)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p := &pkts[i%len(pkts)]
		bpf.Matches(gopacket.CaptureInfo{CaptureLength: len(p.Data), Length: p.Length}, p.Data)
	}
}

func BenchmarkCompile(b *testing.B) {
	for b.Loop() {
		if _, err := Compile(benchExpr, layers.LinkTypeEthernet, 0); err != nil {
			b.Fatal(err)
		}
	}
}
