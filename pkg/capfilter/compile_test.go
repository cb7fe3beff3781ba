//go:build cgo && unix

package capfilter

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"github.com/kubectl-shark/kubectl-shark/pkg/export"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// The captures live with the export package (see its testdata/gen.sh).
var captures = []struct {
	file string
	link layers.LinkType
}{
	{"lo.pcap", layers.LinkTypeEthernet},  // loopback: HTTP over IPv4/IPv6, DNS, ICMP
	{"eth.pcap", layers.LinkTypeEthernet}, // veth: ARP, NDP, HTTP, 802.1Q VLANs 100 and 200
	{"any-sll2.pcap", layers.LinkTypeLinuxSLL2},
	{"any-sll.pcap", layers.LinkTypeLinuxSLL},
	{"rawip.pcap", layers.LinkTypeRaw}, // lo.pcap without Ethernet headers
	{"raw.pcap", layers.LinkTypeRaw},   // text2pcap: DNS over IPv4 and IPv6
}

var expressions = []string{
	"",
	"host 127.0.0.1",
	"src host 127.0.0.1",
	"host 10.99.0.2",
	"net 10.99.0.0/24",
	"net 127.0.0.0/8",
	"dst net 10.0.0.0 mask 255.0.0.0",
	"port 80",
	"tcp port 80",
	"udp port 53",
	"portrange 50000-60000",
	"tcp portrange 1-1024",
	"tcp[tcpflags] & tcp-syn != 0",
	"tcp[tcpflags] & (tcp-syn|tcp-fin) != 0 and not tcp[tcpflags] & tcp-ack != 0",
	"tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420", // payload starts with "GET "
	"vlan",
	"vlan 100",
	"vlan and ip6",
	"vlan 200 and udp port 53",
	"ip",
	"ip6",
	"ip6 and tcp",
	"ip6 host ::1",
	"icmp",
	"icmp6",
	"icmp[icmptype] = icmp-unreach",
	"arp",
	"tcp port 80 and (src host 127.0.0.1)",
	"(tcp and dst port 80) or icmp",
	"udp and not port 53",
	"ip proto 17",
	"ip[2:2] > 500",
	"len > 100",
	"len <= 66",
	"greater 1000",
	"less 80",
	"not tcp",
	"ether host 02:00:00:00:00:01",
	"ether broadcast",
	"ether proto 0x86dd",
}

// TestCompileAgainstTcpdump compiles every expression for every capture's link type and
// checks, against tcpdump (same libpcap): the same program (tcpdump -ddd), the same
// packets selected (tcpdump -r FILE -w - EXPR), or the same error.
func TestCompileAgainstTcpdump(t *testing.T) {
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		t.Fatalf("tcpdump is needed by this test (apt-get install -y tcpdump): %v", err)
	}
	selective := 0 // (capture, expression) pairs selecting some packets but not all
	defer func() {
		if !t.Failed() && selective < 100 {
			t.Errorf("only %d expression/capture pairs select some but not all packets", selective)
		}
	}()
	for _, c := range captures {
		path := filepath.Join("..", "export", "testdata", c.file)
		r, err := export.OpenFile(path)
		if err != nil {
			t.Fatalf("opening fixture (regenerate with ../export/testdata/gen.sh): %v", err)
		}
		var pkts []export.Packet
		for {
			p, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			p.Data = bytes.Clone(p.Data)
			pkts = append(pkts, p)
		}
		iface := r.Interfaces()[0]
		r.Close()
		if iface.LinkType != c.link {
			t.Fatalf("%s: link type %s, want %s", c.file, iface.LinkType, c.link)
		}
		for _, expr := range expressions {
			t.Run(c.file+"/"+expr, func(t *testing.T) {
				// libpcap through cgo gives exactly tcpdump's program; Compile (the
				// pure-Go compiler first) must select exactly tcpdump's packets.
				f, err := compileLibpcap(expr, iface.LinkType, iface.SnapLen)
				g, gerr := Compile(expr, iface.LinkType, iface.SnapLen)
				if (gerr == nil) != (err == nil) {
					t.Fatalf("Compile error %v, libpcap error %v", gerr, err)
				}

				// The program, or the error, as tcpdump has it.
				var stdout, stderr bytes.Buffer
				cmd := exec.Command(tcpdump, "-ddd", "-r", path, expr)
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				if terr := cmd.Run(); terr != nil {
					reason := strings.TrimPrefix(strings.TrimSpace(lastLine(stderr.String())), "tcpdump: ")
					if err == nil {
						t.Fatalf("tcpdump fails (%s) but Compile succeeds", reason)
					}
					if !strings.Contains(err.Error(), ": "+reason+" (tcpdump filter syntax") {
						t.Fatalf("Compile error %q does not carry tcpdump's reason %q", err, reason)
					}
					return
				}
				if err != nil {
					t.Fatalf("Compile: %v (tcpdump compiles it)", err)
				}
				if got, want := dump(f.Instructions()), stdout.String(); got != want {
					t.Fatalf("program differs from tcpdump -ddd:\n got\n%s\nwant\n%s", got, want)
				}

				// The packets tcpdump selects.
				out, err := exec.Command(tcpdump, "--time-stamp-precision=nano", "-r", path, "-w", "-", expr).Output()
				if err != nil {
					t.Fatalf("tcpdump -w -: %v", err)
				}
				sel, err := export.Open(bytes.NewReader(out))
				if err != nil {
					t.Fatal(err)
				}
				var want []string
				for {
					p, err := sel.Next()
					if err != nil {
						break
					}
					want = append(want, fmt.Sprintf("%d.%09d/%d", p.Timestamp.Unix(), p.Timestamp.Nanosecond(), p.Length))
				}
				var got, gotGo []string
				for _, p := range pkts {
					if f.Match(p.Data, p.Length) {
						got = append(got, fmt.Sprintf("%d.%09d/%d", p.Timestamp.Unix(), p.Timestamp.Nanosecond(), p.Length))
					}
					if g.Match(p.Data, p.Length) {
						gotGo = append(gotGo, fmt.Sprintf("%d.%09d/%d", p.Timestamp.Unix(), p.Timestamp.Nanosecond(), p.Length))
					}
				}
				if strings.Join(got, " ") != strings.Join(want, " ") {
					t.Fatalf("Match (libpcap's program) selects %d packets, tcpdump %d:\n got %v\nwant %v", len(got), len(want), got, want)
				}
				if strings.Join(gotGo, " ") != strings.Join(want, " ") {
					t.Fatalf("Compile's program selects %d packets, tcpdump %d:\n got %v\nwant %v", len(gotGo), len(want), gotGo, want)
				}
				if len(got) > 0 && len(got) < len(pkts) {
					selective++
				}
				if c.file == "eth.pcap" && strings.HasPrefix(expr, "vlan") && len(got) != 1 && expr != "vlan" {
					t.Errorf("%q selects %d packets of eth.pcap, want its one frame", expr, len(got))
				}
			})
		}
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// dump prints a program like tcpdump -ddd.
func dump(prog []Instruction) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d\n", len(prog))
	for _, in := range prog {
		fmt.Fprintf(&b, "%d %d %d %d\n", in.Code, in.Jt, in.Jf, in.K)
	}
	return b.String()
}

// The expressions are meaningful for the captures: most select some packets and not
// all, so a filter that matches everything or nothing would fail above.
func TestExpressionsSelect(t *testing.T) {
	some := 0
	for _, expr := range expressions {
		f, err := Compile(expr, layers.LinkTypeEthernet, 0)
		if err != nil {
			continue
		}
		if len(f.Instructions()) > 2 {
			some++
		}
	}
	if some < len(expressions)-3 {
		t.Fatalf("only %d expressions compile to real programs", some)
	}
}

// TestCompileErrors pins the text users see for bad filters (libpcap 1.10 wording).
func TestCompileErrors(t *testing.T) {
	var b strings.Builder
	for _, tc := range []struct {
		expr string
		link layers.LinkType
	}{
		{"tcp prt 80", layers.LinkTypeEthernet},
		{"port 99999", layers.LinkTypeEthernet},
		{"host", layers.LinkTypeEthernet},
		{"ip broadcast", layers.LinkTypeEthernet},
		{"vlan", layers.LinkTypeRaw},
		{"vlan", layers.LinkTypeLinuxSLL2},
		{"ether host 02:00:00:00:00:01", layers.LinkTypeRaw},
		{"tcp[100000000000]", layers.LinkTypeEthernet},
		{"(tcp", layers.LinkTypeEthernet},
		{"net 10.0.0.1/8", layers.LinkTypeEthernet},
		{"tcp", layers.LinkType(4242)},
		{"tcp\x00 or udp", layers.LinkTypeEthernet},
	} {
		_, err := Compile(tc.expr, tc.link, 0)
		fmt.Fprintf(&b, "%s | %q\n\t%v\n", linkName(tc.link), tc.expr, err)
	}
	golden(t, "errors.golden", b.String())
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (go test -update writes it): %v", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update rewrites it):\n got\n%s\nwant\n%s", name, got, want)
	}
}

func TestCompileConcurrent(t *testing.T) {
	done := make(chan error)
	for i := range 8 {
		go func() {
			f, err := Compile("tcp port "+strconv.Itoa(80+i), layers.LinkTypeEthernet, 0)
			if err == nil && len(f.Instructions()) == 0 {
				err = fmt.Errorf("empty program")
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
