package ebpfcap_test

import (
	"bytes"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/afpacket"
	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/ebpfcap"
	st "github.com/kubectl-shark/kubectl-shark/pkg/sniffer/internal/sniffertest"
)

// TestSamePacketsAsAFPacket captures real traffic (HTTP over the veth pair and
// over lo, ICMP) with both backends at once, in both TC modes, with and without
// a filter: the eBPF backend must return exactly AF_PACKET's packets, byte for
// byte, with the same interface, direction, protocol, link type and length.
func TestSamePacketsAsAFPacket(t *testing.T) {
	st.RequireRoot(t)
	for _, tc := range []struct {
		name       string
		legacy     bool
		filter     string
		userFilter bool
		mode       ebpfcap.Mode
		snap       int
	}{
		{"tcx", false, "", false, ebpfcap.ModeTCX, 65536},
		{"clsact", true, "", false, ebpfcap.ModeClsact, 65536},
		{"tcx/filter", false, "tcp port 80", false, ebpfcap.ModeTCX, 65536},
		{"clsact/filter", true, "tcp port 80 or icmp", false, ebpfcap.ModeClsact, 65536},
		{"tcx/user-filter", false, "tcp port 80", true, ebpfcap.ModeTCX, 65536},
		// The default snap lengths: AF_PACKET keeps 256 KiB, eBPF 64 KiB, which
		// is more than any packet here (GSO packets on veth and lo included).
		{"tcx/default-snap", false, "", false, ebpfcap.ModeTCX, 0},
		// A short snap length truncates alike.
		{"clsact/snap-100", true, "", false, ebpfcap.ModeClsact, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pair := st.NewPair(t)
			ngx := st.StartNginx(t, pair.Server)
			ns := pair.Server.Open(t)
			f := compile(t, tc.filter)

			ref, err := afpacket.Open(ns, afpacket.Config{SnapLen: tc.snap, BlockTimeout: 10 * time.Millisecond, Filter: sockFilter(f)})
			if err != nil {
				t.Fatal(err)
			}
			defer ref.Close()
			cfg := ebpfcap.Config{SnapLen: tc.snap, ForceLegacyTC: tc.legacy, Filter: f}
			if tc.userFilter {
				ebpfcap.FilterInUserSpace(&cfg)
			}
			h, err := ebpfcap.Open(ns, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			if h.Mode() != tc.mode {
				t.Errorf("Mode() = %q, want %q", h.Mode(), tc.mode)
			}
			if want := f != nil && !tc.userFilter; h.KernelFilter() != want {
				t.Errorf("KernelFilter() = %v, want %v", h.KernelFilter(), want)
			}

			marker := st.NewMarker()
			waitRef := st.Collect(t, ref, marker)
			waitMine := st.Collect(t, h, marker)
			traffic(t, pair, ngx, marker)
			want, got := waitRef(), waitMine()
			stats, refStats := h.Stats(), ref.Stats()
			t.Logf("eBPF: %d packets, %+v; AF_PACKET: %d packets, %+v", len(got), stats, len(want), refStats)
			if stats.KernelDrops != 0 || refStats.KernelDrops != 0 {
				// Only reported drops may make the captures differ.
				if d := len(got) - len(want); d > int(refStats.KernelDrops) || -d > int(stats.KernelDrops) {
					t.Errorf("got %d packets, AF_PACKET %d (drops: eBPF %d, AF_PACKET %d)", len(got), len(want), stats.KernelDrops, refStats.KernelDrops)
				}
			} else {
				compare(t, got, want)
			}
			if len(got) < 50 {
				t.Errorf("only %d packets", len(got))
			}

			st.CheckInterfaces(t, h, got, "lo", pair.ServerIf)
			if f != nil {
				for _, p := range got {
					if !f.Match(p.Bytes, p.Length) {
						t.Errorf("the filter let through a packet it rejects: % x", p.Bytes[:min(54, len(p.Bytes))])
						break
					}
				}
			}

			// The timestamps convert CLOCK_MONOTONIC to the wall clock: the
			// marker's is the same instant as AF_PACKET's, give or take the
			// path between the two hooks. (A second is a bound for wrong
			// conversions, not a latency requirement.)
			if d := got[len(got)-1].Timestamp.Sub(want[len(want)-1].Timestamp).Abs(); d > time.Second {
				t.Errorf("marker timestamps: eBPF %v, AF_PACKET %v", got[len(got)-1].Timestamp, want[len(want)-1].Timestamp)
			}
			// Interfaces as AF_PACKET (and iproute2) name them.
			if a, b := h.Interfaces(), ref.Interfaces(); !equalIfaces(a, b) {
				t.Errorf("Interfaces() = %+v, AF_PACKET %+v", a, b)
			}
			if s := h.Stats(); s.Delivered != uint64(len(got)) {
				t.Errorf("Delivered = %d, returned %d", s.Delivered, len(got))
			}
		})
	}
}

func equalIfaces(a, b []afpacket.Interface) bool {
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

// TestLoopbackOnce checks that a packet over lo is captured once, as an
// incoming packet, as AF_PACKET shows it.
func TestLoopbackOnce(t *testing.T) {
	st.RequireRoot(t)
	netns := st.NewNetns(t)
	h, err := ebpfcap.Open(netns.Open(t), ebpfcap.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	marker := st.NewMarker()
	wait := st.Collect(t, h, marker)
	st.SendUDP(t, netns, "127.0.0.1:9", marker)
	pkts := wait()
	n := 0
	for _, p := range pkts {
		if bytes.Contains(p.Bytes, marker) {
			n++
			if p.Direction != afpacket.DirectionHost || p.Protocol != unix.ETH_P_IP || p.LinkType != afpacket.LinkTypeEthernet {
				t.Errorf("marker packet: %+v", p.Packet)
			}
		}
	}
	if n != 1 {
		t.Errorf("marker captured %d times", n)
	}
}
