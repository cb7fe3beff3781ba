package bpfexpr

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/bpf"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// syntaxErrorInputs cover the lexer, the parser, the code generator and
// the primitives this package refuses.
var syntaxErrorInputs = []string{
	"tcp prot 80",
	"tcp port 80 udp",
	"not 1.2.3.4",
	"host",
	"host 10.0.0.1 and",
	"(tcp or udp",
	"tcp)",
	"tcp[13 & 2 != 0",
	"tcp[13] & 2 !=",
	"port 70000",
	"port 0x1ffff",
	"ip6 port 80",
	"ip host ::1",
	"ip6 host 10.0.0.1",
	"tcp host 10.0.0.1",
	"ether host 10.0.0.1",
	"host 00:11:22:33:44:55",
	"net 10.0.0.1/8",
	"net 10.0.0.0/33",
	"net 2001:db8::1/32",
	"host 10.0.0.0/8",
	"host 300.1.1.1",
	"host 10.0.0.1 or tcp or 10.0.0.2",
	"host example.com",
	"port 80 and host localhost",
	"net loopback",
	"ether host router",
	"tcp port nosuchservice",
	"udp port ssh",
	"portrange 1-70000",
	"portrange a-b",
	"vlan 5000",
	"ip[0:3] = 1",
	"ip[0] / 0 = 1",
	"ip[0] % (0 + 1) = 1",
	"ip[0] << 32 = 0",
	"ether[0] = 0x1ffffffff",
	"ip[09] = 1",
	"ether proto \\nosuch",
	"ip proto \\nosuch",
	"src proto 6",
	"tcp proto 6",
	"arp proto 1",
	"gateway 10.0.0.1",
	"gateway router",
	"protochain 6",
	"mpls 100",
	"pppoes 1",
	"geneve",
	"llc i",
	"byte 0 & 1",
	"decnet host 1.2",
	"wlan type mgt",
	"inbound",
	"ifindex 1",
	"radio[0] = 1",
	"ah[0] = 1",
	"ip and ip6 and 1 = 2",
	"tcp @ 80",
	"host 1:2:3:4:5:6:7:8:9",
	"ether host 00:11:22:33:44",
	"$1f",
	"host 10.0.0.1\tand\nport 80x",
	"ip[0] = 1 or",
}

// TestSyntaxErrorsGolden checks the text users see, caret included,
// against testdata/syntax_errors.golden (go test -update rewrites it).
func TestSyntaxErrorsGolden(t *testing.T) {
	var b strings.Builder
	for _, expr := range syntaxErrorInputs {
		_, err := Compile(expr, LinkTypeEthernet, 262144)
		b.WriteString("### " + strings.NewReplacer("\t", `\t`, "\n", `\n`).Replace(expr) + "\n")
		if err == nil {
			b.WriteString("(compiles)\n\n")
			t.Errorf("Compile(%q) succeeded, want an error", expr)
			continue
		}
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Compile(%q): %T, want *SyntaxError", expr, err)
		} else if se.Pos < 0 || se.Pos > len(expr) {
			t.Errorf("Compile(%q): Pos %d outside the expression", expr, se.Pos)
		}
		if errors.Is(err, ErrUnsupported) {
			b.WriteString("[unsupported]\n")
		}
		b.WriteString(err.Error() + "\n\n")
	}
	golden := filepath.Join("testdata", "syntax_errors.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("reading golden file (go test -run TestSyntaxErrorsGolden -update writes it): %v", err)
	}
	if diff := cmp.Diff(string(want), b.String()); diff != "" {
		t.Errorf("syntax errors differ from %s (-want +got):\n%s", golden, diff)
	}
}

func TestSyntaxErrorCaret(t *testing.T) {
	_, err := Compile("tcp prot 80", LinkTypeEthernet, 65535)
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("Compile: %v, want *SyntaxError", err)
	}
	if se.Pos != 4 || se.Expr != "tcp prot 80" {
		t.Errorf("SyntaxError{Expr: %q, Pos: %d}, want Pos 4", se.Expr, se.Pos)
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 2 || lines[0] != "tcp prot 80" || !strings.HasPrefix(lines[1], "    ^ ") ||
		!strings.HasSuffix(lines[1], "(tcpdump filter syntax: see `man 7 pcap-filter`)") {
		t.Errorf("Error() = %q", err.Error())
	}
	if errors.Is(err, ErrUnsupported) {
		t.Errorf("a plain syntax error must not wrap ErrUnsupported")
	}
}

func TestCompileArguments(t *testing.T) {
	if _, err := Compile("tcp", LinkTypeEthernet, 0); err == nil {
		t.Errorf("snaplen 0: no error")
	}
	if _, err := Compile("tcp", LinkType(105), 65535); !errors.Is(err, ErrUnsupported) {
		t.Errorf("link type 105 (802.11): %v, want ErrUnsupported", err)
	}
	p, err := Compile("", LinkTypeEthernet, 65535)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Instructions(); len(got) != 1 || got[0] != (bpf.RawInstruction{Op: 0x06, K: 65535}) {
		t.Errorf("empty expression: %v, want [ret #65535]", got)
	}
	if !p.Match(nil, 0) {
		t.Errorf("empty expression does not match an empty packet")
	}
}

// TestString checks the "tcpdump -d" listing.
func TestString(t *testing.T) {
	p, err := Compile("ip6 proto 6", LinkTypeEthernet, 262144)
	if err != nil {
		t.Fatal(err)
	}
	want := `(000) ldh      [12]
(001) jeq      #0x86dd          jt 2	jf 8
(002) ldb      [20]
(003) jeq      #0x6             jt 7	jf 4
(004) jeq      #0x2c            jt 5	jf 8
(005) ldb      [54]
(006) jeq      #0x6             jt 7	jf 8
(007) ret      #262144
(008) ret      #0
`
	if diff := cmp.Diff(want, p.String()); diff != "" {
		t.Errorf("String() (-want +got):\n%s", diff)
	}
	if p.Expr() != "ip6 proto 6" || p.LinkType() != LinkTypeEthernet {
		t.Errorf("Expr() = %q, LinkType() = %d", p.Expr(), p.LinkType())
	}
}

// TestInstructionsAreValid checks every compiled program of the table
// the way the kernel would: it disassembles completely, jumps stay in the
// program, it ends with a return and is at most 4096 instructions long.
func TestInstructionsAreValid(t *testing.T) {
	for _, lt := range allLinkTypes {
		for _, e := range diffExprs {
			p, err := Compile(e, lt, 262144)
			if err != nil {
				continue
			}
			checkProgram(t, e, p)
		}
	}
}

func checkProgram(t testing.TB, expr string, p *Program) {
	t.Helper()
	raw := p.Instructions()
	if len(raw) == 0 || len(raw) > 4096 {
		t.Fatalf("%q: %d instructions", expr, len(raw))
	}
	insns, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatalf("%q: does not disassemble:\n%s", expr, p)
	}
	for i, in := range insns {
		switch in := in.(type) {
		case bpf.LoadExtension:
			if in.Num != bpf.ExtLen {
				t.Fatalf("%q: instruction %d loads ancillary data %v", expr, i, in.Num)
			}
		case bpf.LoadAbsolute:
			if in.Off >= 1<<31 {
				t.Fatalf("%q: instruction %d loads at %#x", expr, i, in.Off)
			}
		}
	}
	switch insns[len(insns)-1].(type) {
	case bpf.RetConstant, bpf.RetA:
	default:
		t.Fatalf("%q: does not end with a return:\n%s", expr, p)
	}
	if _, err := bpf.NewVM(insns); err != nil {
		t.Fatalf("%q: x/net/bpf rejects it: %v\n%s", expr, err, p)
	}
	if _, err := decode(p.raw); err != nil {
		t.Fatalf("%q: %v", expr, err)
	}
}

// TestLongFilter checks jumps farther than 255 instructions, and the
// 4096-instruction limit.
func TestLongFilter(t *testing.T) {
	var hosts []string
	for i := 0; i < 150; i++ {
		hosts = append(hosts, "10.0.1."+itoa(i))
	}
	expr := "tcp and host (" + strings.Join(hosts, " or ") + ") and port 80"
	p, err := Compile(expr, LinkTypeEthernet, 262144)
	if err != nil {
		t.Fatal(err)
	}
	checkProgram(t, expr, p)
	if n := len(p.Instructions()); n < 300 {
		t.Fatalf("%d instructions: the test needs jumps past 255", n)
	}
	pk := testPacket{}
	for _, q := range corpus(t) {
		if q.name == "tcp4-get" {
			pk = q
		}
	}
	if p.Match(pk.data, pk.wireLen) {
		t.Errorf("matches a packet from 10.0.0.1")
	}
	ip4 := pk.data[14:]
	copy(ip4[12:16], []byte{10, 0, 1, 149}) // src 10.0.1.149, the last host
	if !p.Match(pk.data, pk.wireLen) {
		t.Errorf("does not match a packet from 10.0.1.149:\n%s", p)
	}

	for i := 0; i < 1000; i++ {
		hosts = append(hosts, "10.1."+itoa(i/256)+"."+itoa(i%256))
	}
	_, err = Compile("host "+strings.Join(hosts, " or "), LinkTypeEthernet, 262144)
	if err == nil || !strings.Contains(err.Error(), "too long") {
		t.Errorf("1150 hosts: %v, want a 'filter too long' error", err)
	}
}

// TestMatchConcurrent shares one Program between goroutines (run with
// -race).
func TestMatchConcurrent(t *testing.T) {
	p, err := Compile("tcp port 80 or udp port 53", LinkTypeEthernet, 262144)
	if err != nil {
		t.Fatal(err)
	}
	ps := corpus(t)
	want := matchSet(p, ps)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if got := matchSet(p, ps); !equalInts(got, want) {
					t.Errorf("concurrent Match: %v, want %v", got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestMatchDoesNotAllocate(t *testing.T) {
	p, err := Compile("tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420 or (udp and ip[2:2] - len > 0)", LinkTypeEthernet, 262144)
	if err != nil {
		t.Fatal(err)
	}
	ps := corpus(t)
	allocs := testing.AllocsPerRun(100, func() {
		for _, pk := range ps {
			p.Match(pk.data, pk.wireLen)
		}
	})
	if allocs != 0 {
		t.Errorf("Match allocates %v times per corpus", allocs)
	}
}

// TestNamedConstants spot-checks the named values of pcap-filter(7).
func TestNamedConstants(t *testing.T) {
	for name, want := range map[string]uint32{
		"tcpflags": 13, "tcp-fin": 1, "tcp-syn": 2, "tcp-rst": 4, "tcp-push": 8, "tcp-ack": 16,
		"tcp-urg": 32, "tcp-ece": 64, "tcp-cwr": 128, "icmptype": 0, "icmpcode": 1,
		"icmp-echoreply": 0, "icmp-unreach": 3, "icmp-echo": 8, "icmp-timxceed": 11,
		"icmp6type": 0, "icmp6-echo": 128, "icmp6-echoreply": 129, "icmp6-neighborsolicit": 135,
		"icmp6-neighboradvert": 136, "icmp6-routeradvert": 134,
	} {
		toks := lex(name)
		if toks[0].kind != tNUM || toks[0].num != want {
			t.Errorf("%s: token %v %d, want NUM %d", name, toks[0].kind, toks[0].num, want)
		}
	}
}
