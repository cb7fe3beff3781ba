package afpacket_test

import (
	"bytes"
	"encoding/hex"
	"testing"
	"time"

	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/afpacket"
	st "github.com/kubectl-shark/kubectl-shark/pkg/sniffer/internal/sniffertest"
	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/target"
)

// cutAtMarker returns recs up to and including the first containing marker.
func cutAtMarker(t *testing.T, recs []st.Record, marker []byte) []st.Record {
	t.Helper()
	for i, r := range recs {
		if bytes.Contains(r.Data, marker) {
			return recs[:i+1]
		}
	}
	t.Fatalf("reference capture has no marker %q", marker)
	return nil
}

func summarize(t *testing.T, p st.Captured) st.Summary {
	t.Helper()
	s := st.Summary{Ifindex: p.Ifindex, PktType: uint8(p.Direction), Protocol: p.Protocol}
	var hdr int
	switch p.LinkType {
	case afpacket.LinkTypeEthernet:
		hdr = 14
	case afpacket.LinkTypeRaw:
		hdr = 0
	case afpacket.LinkTypeLinuxSLL2:
		hdr = 20
	default:
		t.Fatalf("unexpected link type %v", p.LinkType)
	}
	s.Network = string(p.Bytes[hdr:])
	s.WireBytes = p.Length - hdr
	return s
}

// traffic makes HTTP requests over the veth pair and over lo in the server's
// namespace, then sends marker (if any) from the client.
func traffic(t *testing.T, pair *st.Pair, ngx *st.Nginx, marker []byte) {
	t.Helper()
	st.HTTPTraffic(t, pair, ngx)
	if marker != nil {
		st.SendUDP(t, pair.Client, st.ServerIP+":9", marker)
	}
}

func TestCaptureMatchesTcpdump(t *testing.T) {
	st.RequireRoot(t)
	for _, tc := range []struct {
		name   string
		cooked bool
		byPID  bool
	}{
		{"pid/ethernet", false, true},
		{"netns-path/ethernet", false, false},
		{"pid/cooked", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pair := st.NewPair(t)
			ngx := st.StartNginx(t, pair.Server)

			spec := target.Spec{NetnsPath: pair.Server.Path()}
			if tc.byPID {
				spec = target.Spec{PID: ngx.PID()}
			}
			tgt, err := target.Resolve(t.Context(), spec)
			if err != nil {
				t.Fatal(err)
			}
			defer tgt.Close()

			h, err := afpacket.Open(tgt.Netns, afpacket.Config{Cooked: tc.cooked, BlockTimeout: 10 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			ref := st.StartTcpdump(t, pair.Server)

			marker := st.NewMarker()
			wait := st.Collect(t, h, marker)
			traffic(t, pair, ngx, marker)
			mine := wait()
			ref.WaitFor(t, marker, 30*time.Second)
			refDrops := ref.Stop(t)
			recs := cutAtMarker(t, st.ReadPcap(t, ref.File), marker)
			stats := h.Stats()
			t.Logf("mine: %d packets, %+v; tcpdump: %d packets, %d dropped", len(mine), stats, len(recs), refDrops)

			if stats.KernelDrops != 0 || refDrops != 0 {
				t.Logf("drops reported: mine %d, tcpdump %d", stats.KernelDrops, refDrops)
			}
			if d := len(mine) - len(recs); d > refDrops || -d > int(stats.KernelDrops) {
				t.Errorf("got %d packets, tcpdump %d (drops: mine %d, tcpdump %d)", len(mine), len(recs), stats.KernelDrops, refDrops)
			}

			// The same packets, byte for byte from the network layer on, with
			// the same interface, direction and protocol.
			var got, want []st.Summary
			var gotBytes, wantBytes int
			for _, p := range mine {
				s := summarize(t, p)
				got = append(got, s)
				gotBytes += len(s.Network)
			}
			for _, r := range recs {
				s, ok := st.SummarizeSLL2(r.Data, r.Length)
				if !ok {
					t.Fatalf("short tcpdump record of %d bytes", len(r.Data))
				}
				want = append(want, s)
				wantBytes += len(s.Network)
			}
			if stats.KernelDrops == 0 && refDrops == 0 {
				gc, wc := st.Count(got), st.Count(want)
				for s, n := range wc {
					if gc[s] != n {
						t.Errorf("packet on if %d type %d proto %#x, %d bytes: tcpdump has %d, we have %d", s.Ifindex, s.PktType, s.Protocol, len(s.Network), n, gc[s])
					}
				}
				for s, n := range gc {
					if _, ok := wc[s]; !ok {
						t.Errorf("packet on if %d type %d proto %#x, %d bytes: we have %d, tcpdump none", s.Ifindex, s.PktType, s.Protocol, len(s.Network), n)
					}
				}
				if gotBytes != wantBytes {
					t.Errorf("network-layer bytes: got %d, tcpdump %d", gotBytes, wantBytes)
				}
			}
			if tc.cooked && stats.KernelDrops == 0 && refDrops == 0 {
				// Our synthesized SLL2 headers equal libpcap's.
				gc := st.Count(func() (s []string) {
					for _, p := range mine {
						s = append(s, string(p.Bytes))
					}
					return
				}())
				for _, r := range recs {
					if gc[string(r.Data)] == 0 {
						t.Errorf("tcpdump's SLL2 frame not among ours:\n%s", hex.Dump(r.Data[:min(64, len(r.Data))]))
						break
					}
				}
			}

			// Interfaces and the packets' link types match iproute2's view.
			links := pair.Server.Links(t)
			ifaces := h.Interfaces()
			if len(ifaces) != len(links) {
				t.Fatalf("Interfaces() = %+v, ip link shows %+v", ifaces, links)
			}
			for i, l := range links {
				ifc := ifaces[i]
				if ifc.Index != l.Index || ifc.Name != l.Name || ifc.MTU != l.MTU {
					t.Errorf("interface %d: got %+v, ip link shows %+v", i, ifc, l)
				}
				want := afpacket.LinkTypeEthernet
				if tc.cooked {
					want = afpacket.LinkTypeLinuxSLL2
				}
				if ifc.LinkType != want {
					t.Errorf("interface %s: link type %v, want %v", ifc.Name, ifc.LinkType, want)
				}
			}
			st.CheckInterfaces(t, h, mine, "lo", pair.ServerIf)
		})
	}
}
