package bpfexpr

import (
	"testing"

	"golang.org/x/net/bpf"
)

// benchFilters are typical filters people type.
var benchFilters = []string{
	"tcp port 80",
	"host 10.0.0.1 or host 10.0.0.2",
	"net 10.0.0.0/8 and not port 22",
	"tcp[tcpflags] & (tcp-syn|tcp-fin|tcp-rst) != 0",
	"udp port 53 or (vlan and udp port 53)",
	"ip6 and tcp dst portrange 8000-9000",
	"tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420",
}

// BenchmarkMatch measures Match over the test corpus; ns/pkt is the cost
// of one packet.
func BenchmarkMatch(b *testing.B) {
	ps := corpus(b)
	for _, e := range benchFilters {
		p, err := Compile(e, LinkTypeEthernet, 262144)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(e, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, pk := range ps {
					p.Match(pk.data, pk.wireLen)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ps)), "ns/pkt")
		})
	}
}

// BenchmarkXNetVM runs the same programs on golang.org/x/net/bpf's VM,
// the alternative to Match's own interpreter.
func BenchmarkXNetVM(b *testing.B) {
	ps := corpus(b)
	for _, e := range benchFilters {
		p, err := Compile(e, LinkTypeEthernet, 262144)
		if err != nil {
			b.Fatal(err)
		}
		insns, _ := bpf.Disassemble(p.Instructions())
		vm, err := bpf.NewVM(insns)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(e, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, pk := range ps {
					_, _ = vm.Run(pk.data)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ps)), "ns/pkt")
		})
	}
}

func BenchmarkCompile(b *testing.B) {
	for _, e := range benchFilters {
		b.Run(e, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Compile(e, LinkTypeEthernet, 262144); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
