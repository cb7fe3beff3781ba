package afpacket_test

import (
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"

	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/afpacket"
	st "github.com/kubectl-shark/kubectl-shark/pkg/sniffer/internal/sniffertest"
)

// tcpdumpDD compiles expr for Ethernet with `tcpdump -dd` (as pkg/capfilter
// will) and parses the C array it prints.
func tcpdumpDD(t testing.TB, expr string) []unix.SockFilter {
	t.Helper()
	out, err := exec.Command("tcpdump", "-i", "lo", "-dd", expr).Output()
	if err != nil {
		t.Fatalf("tcpdump -dd %q: %v", expr, err)
	}
	var prog []unix.SockFilter
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.FieldsFunc(line, func(r rune) bool { return strings.ContainsRune("{}, \t", r) })
		if len(f) != 4 {
			t.Fatalf("parsing tcpdump -dd line %q", line)
		}
		var v [4]uint64
		for i := range f {
			if v[i], err = strconv.ParseUint(f[i], 0, 32); err != nil {
				t.Fatalf("parsing tcpdump -dd line %q: %v", line, err)
			}
		}
		prog = append(prog, unix.SockFilter{Code: uint16(v[0]), Jt: uint8(v[1]), Jf: uint8(v[2]), K: uint32(v[3])})
	}
	return prog
}

// ports returns the transport protocol and ports of an Ethernet frame.
func ports(data []byte) (string, int, int) {
	pkt := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.NoCopy)
	if tcp, ok := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP); ok {
		return "tcp", int(tcp.SrcPort), int(tcp.DstPort)
	}
	if udp, ok := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP); ok {
		return "udp", int(udp.SrcPort), int(udp.DstPort)
	}
	return fmt.Sprint(pkt.Layers()), 0, 0
}

func TestFilter(t *testing.T) {
	st.RequireRoot(t)
	pair := st.NewPair(t)
	st.StartNginx(t, pair.Server)

	h, err := afpacket.Open(pair.Server.Open(t), afpacket.Config{
		Filter:       tcpdumpDD(t, "tcp port 80"),
		BlockTimeout: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ref := st.StartTcpdump(t, pair.Server, "tcp port 80")
	marker := st.NewMarker()
	wait := st.Collect(t, h, marker)

	for _, url := range []string{"http://" + st.ServerIP + ":8080/small", "http://" + st.ServerIP + "/small"} {
		pair.Client.Run(t, "curl", "-sS", "-o", "/dev/null", url)
	}
	for _, url := range []string{"http://127.0.0.1:8080/small", "http://127.0.0.1/small"} {
		pair.Server.Run(t, "curl", "-sS", "-o", "/dev/null", url)
	}
	st.SendUDP(t, pair.Client, st.ServerIP+":80", []byte("udp to port 80 is not tcp"))
	st.SendTCP(t, pair.Client, st.ServerIP+":80", marker)
	mine := wait()
	ref.WaitFor(t, marker, 30*time.Second)
	if drops := ref.Stop(t); drops != 0 {
		t.Fatalf("tcpdump dropped %d packets", drops)
	}
	recs := cutAtMarker(t, st.ReadPcap(t, ref.File), marker)
	for _, p := range mine {
		if proto, sp, dp := ports(p.Bytes); proto != "tcp" || sp != 80 && dp != 80 {
			t.Errorf("filter let through %s %d → %d", proto, sp, dp)
		}
	}
	if len(mine) != len(recs) {
		t.Errorf("got %d packets, tcpdump 'tcp port 80' %d", len(mine), len(recs))
	}
	if s := h.Stats(); s.KernelDrops != 0 {
		t.Errorf("kernel drops: %+v", s)
	}

	// Replace the filter while capturing.
	if err := h.SetFilter(tcpdumpDD(t, "udp port 9")); err != nil {
		t.Fatal(err)
	}
	marker2 := st.NewMarker()
	wait = st.Collect(t, h, marker2)
	pair.Client.Run(t, "curl", "-sS", "-o", "/dev/null", "http://"+st.ServerIP+":8080/small")
	st.SendUDP(t, pair.Client, st.ServerIP+":9", marker2)
	for _, p := range wait() {
		// Packets already in the ring passed the old filter.
		if proto, sp, dp := ports(p.Bytes); !(proto == "udp" && dp == 9) && !(proto == "tcp" && (sp == 80 || dp == 80)) {
			t.Errorf("after SetFilter: %s %d → %d", proto, sp, dp)
		}
	}
}

func TestInterfaces(t *testing.T) {
	st.RequireRoot(t)
	pair := st.NewPair(t)
	ngx := st.StartNginx(t, pair.Server)
	ns := pair.Server.Open(t)
	var loIdx, vethIdx int
	for _, l := range pair.Server.Links(t) {
		switch l.Name {
		case "lo":
			loIdx = l.Index
		case pair.ServerIf:
			vethIdx = l.Index
		}
	}

	if _, err := afpacket.Open(ns, afpacket.Config{Interfaces: []string{"lo", "nope0"}}); !errors.Is(err, afpacket.ErrNoSuchInterface) {
		t.Errorf("Open with an unknown interface: %v, want ErrNoSuchInterface", err)
	} else {
		t.Log(err)
	}

	for _, tc := range []struct {
		ifaces []string
		want   map[int]bool
	}{
		{[]string{"lo"}, map[int]bool{loIdx: true}},
		{[]string{pair.ServerIf}, map[int]bool{vethIdx: true}},
		{[]string{pair.ServerIf, "lo"}, map[int]bool{loIdx: true, vethIdx: true}},
	} {
		t.Run(strings.Join(tc.ifaces, ","), func(t *testing.T) {
			h, err := afpacket.Open(ns, afpacket.Config{Interfaces: tc.ifaces, BlockTimeout: 10 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			marker := st.NewMarker()
			wait := st.Collect(t, h, marker)
			traffic(t, pair, ngx, nil)
			// The marker must cross a chosen interface.
			if tc.want[vethIdx] {
				st.SendUDP(t, pair.Client, st.ServerIP+":9", marker)
			} else {
				st.SendUDP(t, pair.Server, "127.0.0.1:9", marker)
			}
			seen := map[int]int{}
			for _, p := range wait() {
				seen[p.Ifindex]++
			}
			for idx := range seen {
				if !tc.want[idx] {
					t.Errorf("packets from ifindex %d: %v", idx, seen)
				}
			}
			for idx := range tc.want {
				if seen[idx] == 0 {
					t.Errorf("no packets from ifindex %d: %v", idx, seen)
				}
			}
		})
	}
}
