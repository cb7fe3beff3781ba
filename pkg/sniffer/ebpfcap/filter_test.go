package ebpfcap

import (
	"errors"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"

	"github.com/kubectl-shark/kubectl-shark/pkg/capfilter"
	st "github.com/kubectl-shark/kubectl-shark/pkg/sniffer/internal/sniffertest"
)

// loadTranslated loads f translated to eBPF, returning 1 for a match and 0
// otherwise.
func loadTranslated(t *testing.T, f *capfilter.Filter) *ebpf.Program {
	t.Helper()
	tr, err := translate(f.Instructions())
	if err != nil {
		t.Fatal(err)
	}
	insns := tr.insns
	if tr.accepts {
		insns = append(insns, asm.Mov.Imm(asm.R0, 1).WithSymbol(labelMatch), asm.Return())
	}
	if tr.rejects {
		insns = append(insns, asm.Mov.Imm(asm.R0, 0).WithSymbol(labelReject), asm.Return())
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.SchedCLS, License: "Dual MIT/GPL", Instructions: insns})
	if err != nil {
		t.Fatalf("loading %q: %v\n%v", f, err, insns)
	}
	t.Cleanup(func() { prog.Close() })
	return prog
}

// testPacket is a packet the kernel can run a SchedCLS program on
// (BPF_PROG_TEST_RUN takes 14 bytes to a page, less the skb's overhead).
func testable(p []byte) bool { return len(p) >= 14 && len(p) <= 3000 }

// checkSame runs f and its translation on every packet, and on truncated
// copies (short packets, whose loads fall off the end), and fails on any
// disagreement.
func checkSame(t *testing.T, f *capfilter.Filter, pkts [][]byte) (matched int) {
	t.Helper()
	prog := loadTranslated(t, f)
	for _, p := range pkts {
		for _, cut := range []int{len(p), len(p) - 1, 54, 34, 23, 14} {
			if cut > len(p) || !testable(p[:cut]) {
				continue
			}
			data := p[:cut]
			want := f.Match(data, len(data))
			ret, err := prog.Run(&ebpf.RunOptions{Data: data})
			if errors.Is(err, unix.EINVAL) && cut < len(p) {
				continue // a truncated header the kernel refuses to build an skb from
			}
			if err != nil {
				t.Fatalf("running %q on %d bytes (% x): %v", f, len(data), data[:min(40, len(data))], err)
			}
			if got := ret != 0; got != want {
				t.Fatalf("filter %q on %d bytes (% x…): kernel %v, capfilter %v", f, len(data), data[:min(40, len(data))], got, want)
			}
			if want && cut == len(p) {
				matched++
			}
		}
	}
	return matched
}

// TestTranslateMatchesCapfilter compiles tcpdump expressions and runs them on
// real captures (../../export/testdata) in the kernel, translated, and in
// capfilter's interpreter: both must select the same packets.
func TestTranslateMatchesCapfilter(t *testing.T) {
	st.RequireRoot(t)
	exprs := []string{
		"", "host 127.0.0.1", "src host 127.0.0.1", "net 127.0.0.0/8", "dst net 10.0.0.0 mask 255.0.0.0",
		"port 80", "tcp port 80", "udp port 53", "portrange 50000-60000", "tcp portrange 1-1024",
		"tcp[tcpflags] & tcp-syn != 0",
		"tcp[tcpflags] & (tcp-syn|tcp-fin) != 0 and not tcp[tcpflags] & tcp-ack != 0",
		"tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420",
		"vlan", "vlan 100", "vlan and ip6", "vlan 200 and udp port 53",
		"ip", "ip6", "ip6 and tcp", "ip6 host ::1", "icmp", "icmp6", "icmp[icmptype] = icmp-echo",
		"arp", "(tcp and dst port 80) or icmp", "udp and not port 53", "ip proto 17",
		"ip[2:2] > 500", "len > 100", "len <= 66", "greater 1000", "less 80", "not tcp",
		"ether host 02:00:00:00:00:01", "ether broadcast", "ether proto 0x86dd",
		// Arithmetic, with X as the operand too.
		"ip[2:2] / 4 > 100", "ip[2:2] % 7 = 3", "ip[2:2] * 3 - 100 > 150", "ip[2:2] / ip[9] > 10",
		"ip[2:2] % ip[9] = 2", "ip[2:2] >> (ip[0] & 0xf) = 0", "ip[2:2] << (ip[9] - 1) > 100",
		"ip[8] ^ ip[9] = 0x39", "-ip[9] = 0xffffffef", "ip[2:2] - ip[9] > 100", "tcp[0:2] | tcp[2:2] = 0xffff",
	}
	files := []struct {
		name string
		link layers.LinkType
	}{
		{"lo.pcap", layers.LinkTypeEthernet},
		{"eth.pcap", layers.LinkTypeEthernet},
		{"rawip.pcap", layers.LinkTypeRaw},
	}
	selective := 0
	for _, file := range files {
		var pkts [][]byte
		for _, r := range st.ReadPcap(t, filepath.Join("..", "..", "export", "testdata", file.name)) {
			if testable(r.Data) {
				pkts = append(pkts, r.Data)
			}
		}
		if len(pkts) < 10 {
			t.Fatalf("%s: only %d packets", file.name, len(pkts))
		}
		for _, expr := range exprs {
			f, err := capfilter.Compile(expr, file.link, 262144)
			if err != nil {
				continue // e.g. "ether host" on raw IP
			}
			if n := checkSame(t, f, pkts); n > 0 && n < len(pkts) {
				selective++
			}
		}
	}
	if selective < 50 {
		t.Errorf("only %d expression/capture pairs select some but not all packets", selective)
	}
}

// TestTranslateInstructions covers what tcpdump does not emit: every ALU
// operation with K and X (including division by zero and shifts by 32 or
// more), scratch memory, TXA/TAX, RET A, LEN and loads at negative offsets.
func TestTranslateInstructions(t *testing.T) {
	st.RequireRoot(t)
	type I struct { // capfilter.Instruction, unkeyed here
		Code   uint16
		Jt, Jf uint8
		K      uint32
	}
	const (
		ldAbsB = 0x30
		ldAbsH = 0x28
		ldAbsW = 0x20
		ldIndB = 0x50
		ldxMSH = 0xb1
		ldLen  = 0x80
		ldxLen = 0x81
		ldImm  = 0x00
		ldxImm = 0x01
		ldMem  = 0x60
		ldxMem = 0x61
		st     = 0x02
		stx    = 0x03
		tax    = 0x07
		txa    = 0x87
		retA   = 0x16
		retK   = 0x06
		jeqK   = 0x15
		jgtX   = 0x2d
		jgeX   = 0x3d
		jsetX  = 0x4d
		jsetK  = 0x45
		ja     = 0x05
	)
	rng := rand.New(rand.NewPCG(1, 2))
	var pkts [][]byte
	for range 200 {
		p := make([]byte, 14+rng.IntN(100))
		for i := range p {
			p[i] = byte(rng.UintN(256))
		}
		if rng.IntN(4) == 0 {
			p[14%len(p)] = 0 // zero operands
		}
		pkts = append(pkts, p)
	}
	var progs [][]I
	for _, op := range []uint16{0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x90, 0xa0} {
		for _, k := range []uint32{0, 1, 3, 31, 32, 40, 0x80000000, 0xffffffff} {
			if (op == 0x30 || op == 0x90) && k == 0 || (op == 0x60 || op == 0x70) && k >= 32 {
				continue // capfilter refuses these constants
			}
			// A = P[0:4]; A op= K; A == P[4:4]? (ret A otherwise)
			progs = append(progs, []I{{ldAbsW, 0, 0, 0}, {0x04 | op, 0, 0, k}, {retA, 0, 0, 0}})
		}
		// X = P[14] (often 0, sometimes ≥ 32); A = P[0:4] op X; ret A
		progs = append(progs, []I{{ldAbsB, 0, 0, 14}, {tax, 0, 0, 0}, {ldAbsW, 0, 0, 0}, {0x0c | op, 0, 0, 0}, {retA, 0, 0, 0}})
		progs = append(progs, []I{{ldAbsB, 0, 0, 14}, {0x54, 0, 0, 63}, {tax, 0, 0, 0}, {ldAbsW, 0, 0, 0}, {0x0c | op, 0, 0, 0}, {retA, 0, 0, 0}})
	}
	progs = append(progs,
		[]I{{ldAbsW, 0, 0, 2}, {0x84, 0, 0, 0}, {retA, 0, 0, 0}},                                  // neg
		[]I{{ldAbsH, 0, 0, 0}, {st, 0, 0, 3}, {ldxMem, 0, 0, 3}, {txa, 0, 0, 0}, {retA, 0, 0, 0}}, // M[3]
		[]I{{ldAbsB, 0, 0, 1}, {tax, 0, 0, 0}, {stx, 0, 0, 15}, {ldImm, 0, 0, 0}, {ldMem, 0, 0, 15}, {retA, 0, 0, 0}},
		[]I{{ldMem, 0, 0, 7}, {jeqK, 0, 1, 0}, {retK, 0, 0, 1}, {retK, 0, 0, 0}}, // unwritten M[] is 0
		[]I{{ldLen, 0, 0, 0}, {jeqK, 1, 0, 60}, {retA, 0, 0, 0}, {retK, 0, 0, 0}},
		[]I{{ldxLen, 0, 0, 0}, {ldAbsB, 0, 0, 0}, {jgtX, 0, 1, 0}, {retK, 0, 0, 1}, {retK, 0, 0, 0}},
		[]I{{ldxImm, 0, 0, 100}, {ldAbsB, 0, 0, 3}, {jgeX, 1, 0, 0}, {retK, 0, 0, 0}, {retK, 0, 0, 7}},
		[]I{{ldAbsB, 0, 0, 5}, {tax, 0, 0, 0}, {ldAbsB, 0, 0, 6}, {jsetX, 0, 1, 0}, {retK, 0, 0, 1}, {retK, 0, 0, 0}},
		[]I{{ldAbsB, 0, 0, 7}, {jsetK, 1, 0, 0x81}, {ja, 0, 0, 1}, {retK, 0, 0, 1}, {retK, 0, 0, 0}},
		[]I{{ldxMSH, 0, 0, 14}, {ldIndB, 0, 0, 14}, {retA, 0, 0, 0}},        // X-relative, past the end when X is large
		[]I{{ldxImm, 0, 0, 0xffffffff}, {ldIndB, 0, 0, 2}, {retK, 0, 0, 1}}, // X + K overflows 32 bits
		[]I{{ldAbsH, 0, 0, 0xfffff000 + 4}, {retK, 0, 0, 1}},                // SKF_AD_PKTTYPE: unsupported, rejects
		[]I{{retK, 0, 0, 0}}, // rejects all
		[]I{{retK, 0, 0, 1}}, // accepts all
		[]I{{ldImm, 0, 0, 0}, {retK, 0, 0, 0}, {ldImm, 0, 0, 5}, {retK, 0, 0, 1}},     // dead code
		[]I{{ldAbsB, 0, 0, 0}, {jeqK, 0, 0, 3}, {ldImm, 0, 0, 0x80}, {retA, 0, 0, 0}}, // jt == jf
	)
	for i, prog := range progs {
		insns := make([]capfilter.Instruction, len(prog))
		for j, in := range prog {
			insns[j] = capfilter.Instruction(in)
		}
		f, err := capfilter.FromInstructions(insns, layers.LinkTypeEthernet)
		if err != nil {
			t.Fatalf("program %d: %v", i, err)
		}
		checkSame(t, f, pkts)
	}
}
