package bpfexpr

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gopacket/gopacket/pcapgo"
	"golang.org/x/net/bpf"
)

// diffExprs are compared with tcpdump on every link type: the set of
// packets kept must be the same, and an expression tcpdump rejects must
// be rejected.
var diffExprs = []string{
	// protocols
	"", "ip", "ip6", "arp", "rarp", "tcp", "udp", "icmp", "icmp6", "sctp",
	"igmp", "pim", "vrrp", "carp", "igrp", "ah", "esp", "not ip", "ip or ip6",
	"ip and tcp", "ip6 and tcp", "not tcp and not udp", "icmp or arp or rarp",
	"ip6 and not icmp6", "tcp && port 80", "tcp || udp", "!tcp", "! tcp and ! udp",
	"tcp or udp and port 53", "not tcp or udp", "ip and not tcp and not udp",
	// hosts
	"host 10.0.0.1", "src host 10.0.0.1", "dst host 10.0.0.2",
	"src or dst host 10.0.0.2", "src and dst host ::1", "host 10.0.0.1 and host 10.0.0.2",
	"host 10.0.0.1 or 8.8.8.8", "host 10.0.0.1 and not 10.0.0.2", "not host 10.0.0.1 and 10.0.0.2",
	"ip host 10.0.0.1", "arp host 10.0.0.2", "rarp host 10.0.0.77", "host 10.0.0.77",
	"src 10.0.0.1", "dst 10.0.0.2 or 10.0.0.1", "host 2001:db8::1", "ip6 host 2001:db8::2",
	"src host fe80::1", "dst host ff02::fb", "host ::1", "host (10.0.0.1 or 8.8.8.8)",
	"host 10.0.0.1 and (10.0.0.2 or 8.8.8.8)", "host 10.0.0", "host 10", "dst host 0.0.0.0",
	"host 10.0.0.1 and (tcp or 10.0.0.2)", "tcp or 10.0.0.2", "(host 10.0.0.1 or host 10.0.0.2) and 8.8.8.8",
	// networks
	"net 10.0.0.0/24", "net 10.0.0.0/8", "src net 10.0.0.0/8", "dst net 192.168.0.0/16",
	"net 10", "net 10.0", "net 10.0.0.0 mask 255.255.255.0", "net 172.16.0.0/12 or 192.168.0.0/16",
	"net 2001:db8::/32", "src net fe80::/10", "ip6 net 2001:db8:20::/48", "net ::/0",
	"net 0.0.0.0/0", "ip net 10.0.0.0/24", "arp net 10.0.0.0/24", "not net 10.0.0.0/8",
	"net 10.0.0.0/8 and not net 10.0.0.0/24", "dst net 224.0.0.0/4",
	// ports
	"port 80", "tcp port 80", "udp port 53", "port 53", "src port 80", "dst port 80",
	"tcp src port 80 or 443", "tcp port 80 or 443", "port 80 or port 443", "udp dst port 6000",
	"port 6000", "src or dst port 53", "src and dst port 5353", "portrange 1-1024",
	"tcp portrange 8000-9000", "udp src portrange 100-200", "portrange 6000", "portrange 9000-8000",
	"port 22 and not port 80", "sctp port 36412", "sctp dst port 2905", "port 36412", "tcp port http",
	"port domain", "port ssh", "udp port ntp", "port https", "port http", "port not 80",
	"port (80 or 443)", "tcp and port 80", "not port 53 and not arp", "port 5000", "udp port 5000",
	"portrange ssh-http", "portrange 20-http",
	// link layer
	"ether host 00:11:22:33:44:55", "ether src 00:11:22:33:44:55", "ether dst ff:ff:ff:ff:ff:ff",
	"ether broadcast", "broadcast", "ether multicast", "multicast", "ip multicast", "ip6 multicast",
	"ip broadcast", "ether proto 0x0800", "ether proto \\arp", "ether proto \\ip6", "ether proto \\rarp",
	"ether host 0011.2233.4455", "ether src 66-77-88-99-aa-bb", "ether dst 001122334455",
	"ether src and dst 00:11:22:33:44:55", "ether proto 0x88cc", "link proto 0x86dd", "ether proto 0x42",
	"ether dst 1:80:c2:0:0:0", "llc", "not llc", "stp", "iso", "ipx", "netbeui", "decnet", "lat",
	"atalk", "aarp", "sca", "mopdl", "moprc",
	// protocol numbers
	"ip proto 6", "ip proto 17", "ip proto \\udp", "ip6 proto 58", "ip6 proto \\tcp", "proto 6",
	"proto \\sctp", "ip proto 47", "proto \\gre", "ip6 proto 44", "ip6 proto 0", "ip proto \\TCP",
	// lengths
	"len > 100", "len <= 60", "greater 1000", "less 64", "len = 66", "len >= 1000 and udp",
	"length < 70", "greater 60 and less 80",
	// packet data and arithmetic
	"tcp[13] & 2 != 0", "tcp[tcpflags] & tcp-syn != 0", "tcp[tcpflags] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack)",
	"tcp[tcpflags] == tcp-rst", "tcp[13] & 0xc0 != 0", "tcp[tcpflags] & (tcp-ece|tcp-cwr|tcp-urg|tcp-fin|tcp-push) != 0",
	"icmp[icmptype] = icmp-echo", "icmp[icmptype] != icmp-echo and icmp[icmptype] != icmp-echoreply",
	"icmp[icmpcode] = 3", "icmp[icmptype] = icmp-unreach", "icmp6[icmp6type] = icmp6-echo",
	"icmp6[icmp6type] = icmp6-neighborsolicit", "icmp6[0] > 127", "ip[0] & 0xf > 5", "ip[8] = 64",
	"ip[2:2] > 100", "ip[6:2] & 0x1fff != 0", "ip[6] & 0x20 != 0", "udp[0:2] = 5000", "udp[2:2] = 53",
	"tcp[0:2] > 1023 and tcp[2:2] < 1024", "tcp[12] >> 4 > 5", "ether[0] & 1 = 1", "ether[12:2] = 0x8100",
	"link[6:4] = 0x66778899", "ip6[6] = 17", "ip6[40] = 128", "arp[6:2] = 1", "arp[7] = 2", "rarp[7] = 3",
	"ip[9] + 1 = 7", "ip[0] % 3 + 1 = 0", "ip[0] % 16 = 5", "ip[0] ^ 0x40 = 5", "ip[0] - 0x40 = 5",
	"ip[0] / 16 = 4", "ip[0] * 2 = 0x8a", "ip[0] << 1 = 0x8a", "ip[2:2] - len + 14 = 0",
	"len - ip[2:2] = 14", "-ip[0] % 3 = 1", "ip[0] * 2 % 3 = 0x8a", "ip[0] + 1 - 2 * 3 = 0x40",
	"ip[ip[0] & 0xf] = 0", "tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420", "ip[0] + tcp[0] = 0x45 + 0x87",
	"1 = 1", "len = len", "ip[0] = ip[0]", "udp[8:4] = 0x12340100", "ip[12:4] = ip[16:4]",
	"ip[100] = 1 or tcp", "tcp[20] = 0x47 or udp", "(ip[0]) = 0x45", "(ip[0] & 0xf0) = 0x40",
	"ip[0] & 0xf0 = (0x40)", "0x45 = ip[0]", "ip[0] | 1 = 0x45", "ip[2:2] > 0 and ip[2:2] < 100",
	"(ip[0] = 0x45)", "ip[0:4] & 0xffff = 84", "ether[12:2] > 1500", "ip6[0:4] & 0xfff00000 = 0x60000000",
	"ip[0] = 0x45 and ip[9] = 6", "ip6[24] = 0xff", "tcp[13] = 2 and tcp[14:2] = 65535",
	"sctp[0:2] = 36412", "udp[4:2] > 1000", "ip[-1] = 0", "ip[0] - - 1 = 0x46", "ip[0] / 0x10 * 0x10 = 0x40",
	"ip[0] >> 4 = 4 and ip6[0] >> 4 = 6", "igmp[0] = 0x22", "ip[0] & 0xf != 5",
	// vlan
	"vlan", "vlan 10", "vlan 20", "vlan and ip", "vlan 10 and tcp port 80", "vlan and vlan",
	"vlan 100 and vlan 200", "vlan 100 and vlan 200 and icmp", "vlan and ip6", "not vlan",
	"vlan or ip", "ip or vlan", "vlan and arp", "vlan 30 and arp host 10.30.0.1", "vlan (10)",
	"vlan and udp port 53", "vlan 100 and vlan 200 and host 10.20.0.1",
	// direction and interface (Linux cooked captures)
	"inbound", "outbound", "inbound and tcp", "not outbound", "ifindex 2", "ifindex 3 and ip",
	// combinations
	"(tcp or udp) and port 53", "tcp and (port 80 or port 443)", "not (port 22 or port 80)",
	"host 10.0.0.1 and (tcp or icmp)", "ip and (host 10.0.0.1 or host 10.0.0.2) and tcp[13] & 2 != 0",
	"tcp port 80 and (tcp[tcpflags] & tcp-push != 0)", "ip6 and (udp or tcp) and not port 53",
	"(((tcp)))", "not not tcp", "not (not tcp)", "tcp and not (src net 10.0.0.0/8)",
	// mostly rejected by tcpdump too
	"tcp port 80 udp", "not 1.2.3.4", "host", "port 70000", "ip6 port 80", "ip host ::1",
	"ether host 10.0.0.1", "tcp host 10.0.0.1", "net 10.0.0.1/8", "host 10.0.0.0/8", "ip proto 6 and",
	"vlan 5000", "ip[0:3] = 1", "ip[0] / 0 = 1", "port 80-90", "portrange 65000-70000", "(tcp", "tcp)",
	"host 300.1.1.1", "ether proto \\foo", "ip proto \\foo", "src proto 6", "ip[0] / (0 + 1) = 1",
	"ip[0] << 32 = 0", "tcp proto 6", "arp proto 6", "host 00:11:22:33:44:55", "ether host ::1",
	"ip6 host 10.0.0.1", "port 10.0.0.1", "proto 10.0.0.1", "net 10.0.0.0/33", "net ::1/129",
	"udp port ssh", "tcp port ntp", "host 10.0.0.1 port 80", "src or 10.0.0.1", "tcp[0", "ip[0] =",
	"= 1", "ether[0] & 1 = 1 or", "10.0.0.1", "80", "tcp port", "len > 0x100000000", "ip[08] = 1",
	"host 1.2.3.4.5", "ip proto 6 or 17", "ether proto 6 or 0x806", "portrange 80", "net 10 mask 255",
	"portrange ssh-nosuchservice", "port 10.0.0.0/8", "port ::1", "proto ::1", "portrange ::1/64",
	"proto 10.0.0.0/8", "net 10.0.0.0/8 or port 22 or 10.0.0.0/8",
}

// unsupportedExprs are valid for libpcap but not compiled by this
// package: Compile must say so with ErrUnsupported.
var unsupportedExprs = []string{
	"protochain 6", "ip protochain \\tcp", "mpls", "mpls 100", "pppoed", "pppoes", "pppoes 1",
	"geneve", "geneve 10", "llc i", "llc u", "byte 0 & 1", "esis", "isis", "clnp", "l1", "iih",
	"decnet host 1.2", "inbound", "ifindex 1", "wlan type mgt", "lane", "vpi 1", "fisu",
	"ip proto 6 or protochain 17", "iso proto 0x83", "isis proto 1",
}

// randomCount is the number of random expressions compared with tcpdump;
// -random raises it for a longer hunt.
var (
	randomCount = 600
	randomSeed  = uint64(1)
)

func init() {
	flag.IntVar(&randomCount, "random", randomCount, "random expressions compared with tcpdump")
	flag.Uint64Var(&randomSeed, "seed", randomSeed, "seed of the random expressions")
}

// randomAtoms are combined by randomExprs.
var randomAtoms = []string{
	"tcp", "udp", "icmp", "ip", "ip6", "arp", "vlan", "host 10.0.0.1", "src host 10.0.0.2",
	"dst net 10.0.0.0/8", "port 80", "tcp port 53", "udp dst port 53", "portrange 1-1024",
	"icmp6", "net 2001:db8::/32", "ether broadcast", "multicast", "len > 100", "less 80",
	"tcp[tcpflags] & tcp-syn != 0", "ip[8] = 64", "ip6 proto 44", "sctp", "ether src 00:11:22:33:44:55",
	"ip[2:2] - len + 14 = 0", "vlan 10", "udp[0:2] = 5000", "proto 17", "inbound",
}

// randomExprs builds expressions from randomAtoms with and, or, not,
// parentheses and identifiers that inherit qualifiers, from a fixed seed.
func randomExprs(n int) []string {
	r := rand.New(rand.NewPCG(randomSeed, 2))
	inherit := []string{"10.0.0.2", "8.8.8.8", "443", "22", "fe80::1", "(80 or 53)"}
	var gen func(depth int) string
	gen = func(depth int) string {
		if depth == 0 || r.IntN(3) == 0 {
			return randomAtoms[r.IntN(len(randomAtoms))]
		}
		switch r.IntN(6) {
		case 0:
			return "not " + gen(depth-1)
		case 1:
			return "(" + gen(depth-1) + ")"
		case 2:
			return gen(depth-1) + " or " + inherit[r.IntN(len(inherit))]
		case 3:
			return gen(depth-1) + " and " + gen(depth-1)
		case 4:
			return gen(depth-1) + " && not " + gen(depth-1)
		}
		return gen(depth-1) + " or " + gen(depth-1)
	}
	out := make([]string, n)
	for i := range out {
		out[i] = gen(4)
	}
	return out
}

type tcpdumpResult struct {
	matches []int
	err     string
}

// runTcpdump returns the indices of the packets tcpdump keeps, or its
// error message.
func runTcpdump(tb testing.TB, tcpdump, pcap, expr string) tcpdumpResult {
	dir := tb.TempDir()
	out := filepath.Join(dir, "out.pcap")
	args := []string{"-r", pcap, "-w", out}
	if expr != "" {
		f := filepath.Join(dir, "filter")
		if err := os.WriteFile(f, []byte(expr), 0o600); err != nil {
			tb.Fatal(err)
		}
		args = append(args, "-F", f)
	}
	cmd := exec.Command(tcpdump, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.LastIndex(msg, "tcpdump: "); i >= 0 {
			msg = msg[i+len("tcpdump: "):]
		}
		return tcpdumpResult{err: msg}
	}
	f, err := os.Open(out)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		tb.Fatalf("reading tcpdump output: %v", err)
	}
	var res tcpdumpResult
	for {
		_, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			tb.Fatalf("reading tcpdump output: %v", err)
		}
		res.matches = append(res.matches, ci.Timestamp.Nanosecond()/1000)
	}
	return res
}

func matchSet(p *Program, ps []testPacket) []int {
	var m []int
	for i, pk := range ps {
		if p.Match(pk.data, pk.wireLen) {
			m = append(m, i)
		}
	}
	return m
}

func minus(a, b []int) []int {
	var out []int
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func names(ps []testPacket, idx []int) string {
	var s []string
	for _, i := range idx {
		s = append(s, fmt.Sprintf("%d:%s", i, ps[i].name))
	}
	return "[" + strings.Join(s, " ") + "]"
}

func lookTcpdump(tb testing.TB) string {
	tb.Helper()
	path, err := exec.LookPath("tcpdump")
	if err != nil {
		tb.Fatalf("tcpdump is the oracle of this test and is not installed (apt-get install -y tcpdump): %v", err)
	}
	return path
}

// TestTcpdumpDifferential compiles every expression of diffExprs for
// every link type and checks that Match keeps exactly the packets
// tcpdump keeps from the same capture, and that an expression is an
// error exactly when tcpdump says it is.
func TestTcpdumpDifferential(t *testing.T) {
	tcpdump := lookTcpdump(t)
	dir := t.TempDir()
	type job struct {
		lt   LinkType
		ps   []testPacket
		pcap string
		expr string
	}
	var jobs []job
	random := randomExprs(randomCount)
	for _, lt := range allLinkTypes {
		ps := corpusFor(t, lt)
		pcap := writePcap(t, dir, lt, ps)
		for _, e := range diffExprs {
			jobs = append(jobs, job{lt, ps, pcap, e})
		}
		switch lt {
		case LinkTypeEthernet, LinkTypeLinuxSLL2, LinkTypeRaw:
			for _, e := range random {
				jobs = append(jobs, job{lt, ps, pcap, e})
			}
		}
	}
	results := make([]tcpdumpResult, len(jobs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			results[i] = runTcpdump(t, tcpdump, j.pcap, j.expr)
		}()
	}
	wg.Wait()

	compared, errorsAgreed, discriminating := 0, 0, 0
	for i, j := range jobs {
		want := results[i]
		prog, err := Compile(j.expr, j.lt, 262144)
		name := fmt.Sprintf("%s/%q", j.lt.description(), j.expr)
		switch {
		case want.err != "" && strings.Contains(want.err, "rejects all packets"):
			if err == nil {
				if got := matchSet(prog, j.ps); len(got) != 0 {
					t.Errorf("%s: tcpdump: %s; Match keeps %s", name, want.err, names(j.ps, got))
				}
			}
			errorsAgreed++
		case want.err != "":
			if err == nil {
				t.Errorf("%s: tcpdump rejects it (%s) but Compile accepts it", name, want.err)
			}
			errorsAgreed++
		case err != nil:
			t.Errorf("%s: tcpdump accepts it, Compile: %v", name, err)
		default:
			got := matchSet(prog, j.ps)
			if !slices.Equal(got, want.matches) {
				t.Errorf("%s: only Match keeps %s, only tcpdump keeps %s\n%s", name,
					names(j.ps, minus(got, want.matches)), names(j.ps, minus(want.matches, got)), prog)
			}
			compared++
			if len(got) > 0 && len(got) < len(j.ps) {
				discriminating++
			}
			checkVM(t, name, prog, j.ps)
		}
	}
	t.Logf("%d expressions x %d link types and %d random ones x 3: %d match sets compared (%d neither empty nor full), %d errors agreed",
		len(diffExprs), len(allLinkTypes), len(random), compared, discriminating, errorsAgreed)
}

// checkVM runs Instructions() on golang.org/x/net/bpf's VM and compares
// with Match. That VM has no "neg" and does not take shift counts modulo
// 32; programs using either are skipped.
func checkVM(t *testing.T, name string, prog *Program, ps []testPacket) {
	t.Helper()
	raw := prog.Instructions()
	insns, ok := bpf.Disassemble(raw)
	if !ok {
		t.Errorf("%s: Instructions() do not disassemble", name)
		return
	}
	for _, in := range insns {
		switch in := in.(type) {
		case bpf.NegateA:
			return
		case bpf.ALUOpX:
			if in.Op == bpf.ALUOpShiftLeft || in.Op == bpf.ALUOpShiftRight {
				return
			}
		}
	}
	vm, err := bpf.NewVM(insns)
	if err != nil {
		t.Errorf("%s: x/net/bpf rejects the program: %v\n%s", name, err, prog)
		return
	}
	for i, p := range ps {
		n, err := vm.Run(p.data)
		if err != nil {
			t.Errorf("%s: x/net/bpf VM on packet %d: %v", name, i, err)
			continue
		}
		if got := prog.Match(p.data, p.wireLen); got != (n != 0) {
			// "len" is the wire length for Match, the captured
			// length for the VM: only truncated packets may differ
			// when the program reads it.
			if p.wireLen != len(p.data) && strings.Contains(prog.String(), "#pktlen") {
				continue
			}
			t.Errorf("%s: packet %d (%s): Match %v, x/net/bpf VM %d", name, i, p.name, got, n)
		}
	}
}

// TestUnsupported checks that valid libpcap syntax this package does not
// compile is reported as such.
func TestUnsupported(t *testing.T) {
	for _, e := range unsupportedExprs {
		_, err := Compile(e, LinkTypeEthernet, 262144)
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("Compile(%q): %v, want an error wrapping ErrUnsupported", e, err)
		}
	}
}
