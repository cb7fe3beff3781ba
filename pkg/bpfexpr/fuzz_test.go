package bpfexpr

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/net/bpf"
)

// vmComparable reports whether golang.org/x/net/bpf's VM runs p like
// Match: it has no "neg", does not take shift counts modulo 32, and its
// "len" is the captured length.
func vmComparable(p *Program) (*bpf.VM, bool) {
	insns, ok := bpf.Disassemble(p.Instructions())
	if !ok {
		return nil, false
	}
	for _, in := range insns {
		switch in := in.(type) {
		case bpf.NegateA, bpf.LoadExtension:
			return nil, false
		case bpf.ALUOpX:
			if in.Op == bpf.ALUOpShiftLeft || in.Op == bpf.ALUOpShiftRight {
				return nil, false
			}
		}
	}
	vm, err := bpf.NewVM(insns)
	return vm, err == nil
}

// FuzzCompile compiles expressions mutated from the test tables: the
// compiler must not panic, an error must be a *SyntaxError pointing into
// the expression, and a program must be valid classic BPF that Match and
// x/net/bpf's VM run alike.
func FuzzCompile(f *testing.F) {
	for _, e := range diffExprs {
		f.Add(e, uint8(0))
	}
	for i, e := range unsupportedExprs {
		f.Add(e, uint8(i))
	}
	for i, e := range syntaxErrorInputs {
		f.Add(e, uint8(i))
	}
	corpora := make([][]testPacket, len(allLinkTypes))
	for i, lt := range allLinkTypes {
		corpora[i] = corpusFor(f, lt)
	}
	f.Fuzz(func(t *testing.T, expr string, lti uint8) {
		i := int(lti) % len(allLinkTypes)
		p, err := Compile(expr, allLinkTypes[i], 262144)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Compile(%q): %T %v, want *SyntaxError", expr, err, err)
			}
			if se.Pos < 0 || se.Pos > len(expr) || se.Expr != expr {
				t.Fatalf("Compile(%q): SyntaxError{Pos: %d, Expr: %q}", expr, se.Pos, se.Expr)
			}
			if !strings.Contains(err.Error(), "^") {
				t.Fatalf("Compile(%q): no caret in %q", expr, err.Error())
			}
			return
		}
		checkProgram(t, expr, p)
		vm, ok := vmComparable(p)
		for _, pk := range corpora[i] {
			got := p.Match(pk.data, pk.wireLen)
			if !ok {
				continue
			}
			n, err := vm.Run(pk.data)
			if err != nil {
				t.Fatalf("%q: x/net/bpf VM: %v", expr, err)
			}
			if got != (n != 0) {
				t.Fatalf("%q on %s: Match %v, x/net/bpf VM %d\n%s", expr, pk.name, got, n, p)
			}
		}
	})
}

// fuzzFilters are the programs FuzzMatch runs on random packets.
var fuzzFilters = []string{
	"tcp port 80 or udp port 53", "host 10.0.0.1 or net 2001:db8::/32",
	"tcp[tcpflags] & (tcp-syn|tcp-fin) != 0", "vlan and vlan and ip",
	"icmp6[icmp6type] = icmp6-echo or icmp[icmptype] = icmp-echo",
	"tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420", "portrange 1000-2000 and not ip6 proto 44",
	"ip[ip[0] & 0xf] = 0 or ip[2:2] / len > 3 or ip[2:2] % (ip[6] + 1) = 2", "ether multicast and len > 100",
	"arp host 10.0.0.2 or rarp", "sctp or ip6 multicast", "stp or llc or ipx",
}

// FuzzMatch runs filters on random packets: Match must not panic and
// must agree with x/net/bpf's VM.
func FuzzMatch(f *testing.F) {
	for _, pk := range corpus(f) {
		f.Add(pk.data)
	}
	var progs []*Program
	for _, e := range fuzzFilters {
		p, err := Compile(e, LinkTypeEthernet, 262144)
		if err != nil {
			f.Fatalf("Compile(%q): %v", e, err)
		}
		progs = append(progs, p)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range progs {
			got := p.Match(data, len(data))
			vm, ok := vmComparable(p)
			if !ok {
				continue
			}
			n, err := vm.Run(data)
			if err != nil {
				t.Fatalf("%q: x/net/bpf VM: %v", p.Expr(), err)
			}
			if got != (n != 0) {
				t.Fatalf("%q: Match %v, x/net/bpf VM %d\n%s", p.Expr(), got, n, p)
			}
		}
	})
}
