package afpacket_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/afpacket"
	st "github.com/kubectl-shark/kubectl-shark/pkg/sniffer/internal/sniffertest"
	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/target"
)

// captured is a copied packet.
type captured struct {
	afpacket.Packet
	data []byte
}

// collect reads packets in the background until one contains marker
// (included); the returned function waits for and returns copies of them all.
// Reading runs concurrently with the traffic, as in the agent.
func collect(t *testing.T, h *afpacket.Handle, marker []byte) func() []captured {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	type result struct {
		pkts []captured
		err  error
	}
	done := make(chan result, 1)
	go func() {
		defer cancel()
		var pkts []captured
		for {
			p, err := h.Next(ctx)
			if err != nil {
				done <- result{pkts, err}
				return
			}
			if p.CaptureLength != len(p.Data) || p.Length < p.CaptureLength {
				done <- result{pkts, fmt.Errorf("packet lengths: capture %d, data %d, wire %d", p.CaptureLength, len(p.Data), p.Length)}
				return
			}
			pkts = append(pkts, captured{p, bytes.Clone(p.Data)})
			if bytes.Contains(p.Data, marker) {
				done <- result{pkts, nil}
				return
			}
		}
	}()
	return func() []captured {
		t.Helper()
		r := <-done
		if r.err != nil {
			t.Fatalf("reading packets (after %d): %v; stats %+v", len(r.pkts), r.err, h.Stats())
		}
		return r.pkts
	}
}

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

func newMarker(t *testing.T) []byte {
	b := make([]byte, 8)
	rand.Read(b)
	return []byte("shark-marker-" + hex.EncodeToString(b))
}

func summarize(t *testing.T, p captured) st.Summary {
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
	s.Network = string(p.data[hdr:])
	s.WireBytes = p.Length - hdr
	return s
}

func count[T comparable](xs []T) map[T]int {
	m := map[T]int{}
	for _, x := range xs {
		m[x]++
	}
	return m
}

// traffic makes HTTP requests over the veth pair and over lo in the server's
// namespace, then sends marker (if any) from the client.
func traffic(t *testing.T, pair *st.Pair, ngx *st.Nginx, marker []byte) {
	t.Helper()
	for _, url := range []string{"http://" + st.ServerIP + "/big", "http://" + st.ServerIP + ":8080/small", "http://" + st.ServerIP + "/big"} {
		got := pair.Client.Run(t, "curl", "-sS", "--max-time", "20", url)
		path := url[strings.LastIndex(url, "/"):]
		if got != string(ngx.Files[path]) {
			t.Fatalf("curl %s: got %d bytes, want %d", url, len(got), len(ngx.Files[path]))
		}
	}
	pair.Server.Run(t, "curl", "-sS", "--max-time", "20", "-o", "/dev/null", "http://127.0.0.1/big")
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

			marker := newMarker(t)
			wait := collect(t, h, marker)
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
				gc, wc := count(got), count(want)
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
				gc := count(func() (s []string) {
					for _, p := range mine {
						s = append(s, string(p.data))
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
			seen := map[string]int{}
			for _, p := range mine {
				ifc, ok := h.Interface(p.Ifindex)
				if !ok {
					t.Fatalf("packet from unknown ifindex %d", p.Ifindex)
				}
				seen[ifc.Name]++
				if p.LinkType != ifc.LinkType {
					t.Errorf("packet on %s has link type %v, interface %v", ifc.Name, p.LinkType, ifc.LinkType)
				}
			}
			if seen["lo"] == 0 || seen[pair.ServerIf] == 0 {
				t.Errorf("packets per interface %v: want some on lo and %s", seen, pair.ServerIf)
			}
		})
	}
}
