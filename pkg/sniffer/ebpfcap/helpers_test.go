package ebpfcap_test

import (
	"encoding/hex"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"github.com/kubectl-shark/kubectl-shark/pkg/capfilter"
	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/afpacket"
	st "github.com/kubectl-shark/kubectl-shark/pkg/sniffer/internal/sniffertest"
	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/netns"
)

// compile compiles a tcpdump filter for Ethernet (nil for "").
func compile(t testing.TB, expr string) *capfilter.Filter {
	t.Helper()
	if expr == "" {
		return nil
	}
	f, err := capfilter.Compile(expr, layers.LinkTypeEthernet, 65536)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// sockFilter gives f's program as AF_PACKET takes it (nil for nil).
func sockFilter(f *capfilter.Filter) []unix.SockFilter {
	if f == nil {
		return nil
	}
	var prog []unix.SockFilter
	for _, in := range f.Instructions() {
		prog = append(prog, unix.SockFilter{Code: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K})
	}
	return prog
}

// traffic makes HTTP requests over the veth pair and over lo in the server's
// namespace, pings the server, waits until every TCP connection has finished
// closing, and sends marker over TCP to port 80, the last packets of the
// test.
func traffic(t *testing.T, pair *st.Pair, ngx *st.Nginx, marker []byte) {
	t.Helper()
	st.HTTPTraffic(t, pair, ngx)
	ping(t, pair.Client, st.ServerIP, 3)
	waitTCPQuiet(t, pair.Server)
	waitTCPQuiet(t, pair.Client)
	st.SendTCP(t, pair.Client, st.ServerIP+":80", marker)
}

// ping sends n ICMP echo requests from inside ns to dst, one at a time, each
// answered before the next (Debian's minimal images have no ping).
func ping(t testing.TB, ns st.Netns, dst string, n int) {
	t.Helper()
	f, err := os.Open(ns.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var c *icmp.PacketConn
	if err := netns.Do(f, func() error {
		var err error
		c, err = icmp.ListenPacket("ip4:icmp", "0.0.0.0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id := os.Getpid() & 0xffff
	for seq := 1; seq <= n; seq++ {
		msg := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("shark ping")}}
		b, _ := msg.Marshal(nil)
		if _, err := c.WriteTo(b, &net.IPAddr{IP: net.ParseIP(dst)}); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 1500)
		for {
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				t.Fatalf("ping %s: %v", dst, err)
			}
			m, err := icmp.ParseMessage(1, buf[:n])
			if err == nil && m.Type == ipv4.ICMPTypeEchoReply {
				if e, ok := m.Body.(*icmp.Echo); ok && e.ID == id && e.Seq == seq {
					break
				}
			}
		}
	}
}

// waitTCPQuiet waits until every TCP socket of ns listens or is in TIME_WAIT:
// no connection has packets left to send.
func waitTCPQuiet(t testing.TB, ns st.Netns) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out := ns.Run(t, "ss", "-Htan")
		busy := ""
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if f := strings.Fields(line); len(f) > 0 && f[0] != "LISTEN" && f[0] != "TIME-WAIT" {
				busy = line
			}
		}
		if busy == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("TCP connections in %s still closing: %s", ns.Name, out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// key is what two captures of the same packet agree on.
type key struct {
	Ifindex   int
	Direction afpacket.Direction
	Protocol  uint16
	LinkType  afpacket.LinkType
	Length    int
	Data      string
}

func keyOf(p st.Captured) key {
	return key{p.Ifindex, p.Direction, p.Protocol, p.LinkType, p.Length, string(p.Bytes)}
}

// compare checks that mine and ref hold the same packets, order aside.
func compare(t *testing.T, mine, ref []st.Captured) {
	t.Helper()
	var a, b []key
	for _, p := range mine {
		a = append(a, keyOf(p))
	}
	for _, p := range ref {
		b = append(b, keyOf(p))
	}
	ca, cb := st.Count(a), st.Count(b)
	for k, n := range cb {
		if ca[k] != n {
			t.Errorf("packet on if %d %v proto %#x, %d bytes (%d on the wire): AF_PACKET has %d, eBPF %d", k.Ifindex, k.Direction, k.Protocol, len(k.Data), k.Length, n, ca[k])
		}
	}
	for k, n := range ca {
		if _, ok := cb[k]; !ok {
			t.Errorf("packet on if %d %v proto %#x, %d bytes (%d on the wire): eBPF has %d, AF_PACKET none:\n%s", k.Ifindex, k.Direction, k.Protocol, len(k.Data), k.Length, n, hex.Dump([]byte(k.Data[:min(64, len(k.Data))])))
		}
	}
	if len(mine) != len(ref) {
		t.Errorf("eBPF captured %d packets, AF_PACKET %d", len(mine), len(ref))
	}
}
