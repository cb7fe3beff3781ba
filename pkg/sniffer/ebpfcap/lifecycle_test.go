package ebpfcap_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/afpacket"
	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/ebpfcap"
	st "github.com/kubectl-shark/kubectl-shark/pkg/sniffer/internal/sniffertest"
	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/netns"
)

func countFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// tcState is what iproute2 shows of the TC setup of every interface of ns.
func tcState(t testing.TB, ns st.Netns) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(st.Run(t, "tc", "-n", ns.Name, "qdisc", "show"))
	for _, l := range ns.Links(t) {
		for _, hook := range []string{"ingress", "egress"} {
			b.WriteString(l.Name + " " + hook + ":\n")
			b.WriteString(st.Run(t, "tc", "-n", ns.Name, "filter", "show", "dev", l.Name, hook))
		}
	}
	return b.String()
}

// tcxPrograms returns the programs attached with TCX to the interfaces of ns.
func tcxPrograms(t testing.TB, ns st.Netns) []ebpf.ProgramID {
	t.Helper()
	f, err := netns.Open(ns.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ids []ebpf.ProgramID
	for _, l := range ns.Links(t) {
		for _, at := range []ebpf.AttachType{ebpf.AttachTCXIngress, ebpf.AttachTCXEgress} {
			err := netns.Do(f, func() error {
				r, err := link.QueryPrograms(link.QueryOptions{Target: l.Index, Attach: at})
				if err != nil {
					return err
				}
				for _, p := range r.Programs {
					ids = append(ids, p.ID)
				}
				return nil
			})
			if err != nil {
				t.Fatalf("querying TCX programs of %s: %v", l.Name, err)
			}
		}
	}
	return ids
}

// eventually polls cond (some kernel objects are freed after an RCU grace
// period) for up to 30 s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still %s after 30s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// gone reports whether looking up a kernel object by ID failed, closing what
// it found.
func gone[T interface{ Close() error }](obj T, err error) bool {
	if err != nil {
		return true
	}
	obj.Close()
	return false
}

// TestCloseLeavesNothing checks that Close detaches every program and frees
// every kernel object and descriptor, while a Next waits, and that a clsact
// qdisc that was there before stays.
func TestCloseLeavesNothing(t *testing.T) {
	st.RequireRoot(t)
	for _, legacy := range []bool{false, true} {
		name := "tcx"
		if legacy {
			name = "clsact"
		}
		t.Run(name, func(t *testing.T) {
			pair := st.NewPair(t)
			ns := pair.Server.Open(t)
			// Someone else's clsact qdisc, with a filter, on the veth.
			st.Run(t, "tc", "-n", pair.Server.Name, "qdisc", "add", "dev", pair.ServerIf, "clsact")
			st.Run(t, "tc", "-n", pair.Server.Name, "filter", "add", "dev", pair.ServerIf, "ingress", "bpf", "bytecode", "1,6 0 0 0,")
			before := tcState(t, pair.Server)
			cfg := ebpfcap.Config{ForceLegacyTC: legacy, Filter: compile(t, "tcp port 80")}

			// Warm up: the runtime's poller and the library's feature
			// probes keep descriptors of their own.
			h, err := ebpfcap.Open(ns, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := h.Close(); err != nil {
				t.Fatal(err)
			}
			fds := countFDs(t)

			h, err = ebpfcap.Open(ns, cfg)
			if err != nil {
				t.Fatal(err)
			}
			ids, err := ebpfcap.ObjectIDs(h)
			if err != nil {
				t.Fatal(err)
			}
			if len(ids.Programs) != 4 || len(ids.Maps) != 4 {
				t.Errorf("objects: %+v", ids)
			}
			during := tcState(t, pair.Server)
			bpftool := pair.Server.Run(t, "bpftool", "net", "show")
			if legacy {
				if len(ids.Links) != 0 || strings.Count(during, "capture_ingress") != 2 || strings.Count(during, "capture_egress") != 1 {
					t.Errorf("clsact mode: links %v, TC:\n%s", ids.Links, during)
				}
				if !strings.Contains(bpftool, "clsact/ingress capture_ingress") || !strings.Contains(bpftool, "clsact/egress capture_egress") {
					t.Errorf("bpftool net show:\n%s", bpftool)
				}
			} else {
				if len(ids.Links) != 3 || during != before || len(tcxPrograms(t, pair.Server)) != 3 {
					t.Errorf("TCX mode: links %v, TCX programs %v, TC:\n%s", ids.Links, tcxPrograms(t, pair.Server), during)
				}
			}

			next := make(chan error, 1)
			go func() {
				_, err := h.Next(context.Background())
				next <- err
			}()
			if err := h.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if err := <-next; !errors.Is(err, afpacket.ErrClosed) {
				t.Errorf("Next during Close: %v", err)
			}
			if err := h.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}

			if n := countFDs(t); n != fds {
				t.Errorf("%d descriptors open after Close, %d before Open", n, fds)
			}
			if after := tcState(t, pair.Server); after != before {
				t.Errorf("TC state after Close:\n%s\nbefore Open:\n%s", after, before)
			}
			if p := tcxPrograms(t, pair.Server); len(p) != 0 {
				t.Errorf("TCX programs left: %v", p)
			}
			if out := pair.Server.Run(t, "bpftool", "net", "show"); strings.Contains(out, "capture_") {
				t.Errorf("bpftool net show after Close:\n%s", out)
			}
			for _, id := range ids.Links {
				eventually(t, "a link", func() bool { return gone(link.NewFromID(id)) })
			}
			for _, id := range ids.Programs {
				eventually(t, "a program", func() bool { return gone(ebpf.NewProgramFromID(id)) })
			}
			for _, id := range ids.Maps {
				eventually(t, "a map", func() bool { return gone(ebpf.NewMapFromID(id)) })
			}
		})
	}
}

// TestFollowsNewInterfaces creates an interface after Open and captures on
// it, then deletes it.
func TestFollowsNewInterfaces(t *testing.T) {
	st.RequireRoot(t)
	for _, legacy := range []bool{false, true} {
		t.Run(map[bool]string{false: "tcx", true: "clsact"}[legacy], func(t *testing.T) {
			ns := st.NewNetns(t)
			h, err := ebpfcap.Open(ns.Open(t), ebpfcap.Config{ForceLegacyTC: legacy})
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			// A veth pair with both ends in the namespace; packets to a
			// static neighbour leave through dev.
			dev, peer := ns.Name+"a", ns.Name+"b"
			st.Run(t, "ip", "-n", ns.Name, "link", "add", dev, "type", "veth", "peer", peer)
			st.Run(t, "ip", "-n", ns.Name, "addr", "add", "198.19.7.1/24", "dev", dev)
			st.Run(t, "ip", "-n", ns.Name, "link", "set", peer, "up")
			st.Run(t, "ip", "-n", ns.Name, "link", "set", dev, "up")
			st.Run(t, "ip", "-n", ns.Name, "neigh", "replace", "198.19.7.2", "lladdr", "02:00:00:00:00:02", "dev", dev, "nud", "permanent")
			var idx, peerIdx int
			for _, l := range ns.Links(t) {
				switch l.Name {
				case dev:
					idx = l.Index
				case peer:
					peerIdx = l.Index
				}
			}
			eventually(t, "not attached to "+dev, func() bool {
				return slices.Contains(ebpfcap.Attached(h), idx) && slices.Contains(ebpfcap.Attached(h), peerIdx)
			})
			marker := st.NewMarker()
			wait := st.Collect(t, h, marker)
			st.SendUDP(t, ns, "198.19.7.2:9", marker)
			pkts := wait()
			p := pkts[len(pkts)-1]
			if p.Ifindex != idx || p.Direction != afpacket.DirectionOutgoing || p.LinkType != afpacket.LinkTypeEthernet {
				t.Errorf("marker: %+v", p.Packet)
			}
			if ifc, ok := h.Interface(idx); !ok || ifc.Name != dev {
				t.Errorf("Interface(%d) = %+v, %v", idx, ifc, ok)
			}

			st.Run(t, "ip", "-n", ns.Name, "link", "del", dev) // and its peer
			eventually(t, "attached to deleted "+dev, func() bool {
				a := ebpfcap.Attached(h)
				return len(a) == 1 && a[0] != idx
			})
			if err := h.Err(); err != nil {
				t.Errorf("Err() = %v", err)
			}
			if err := h.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}
