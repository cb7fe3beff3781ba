package afpacket_test

import (
	"testing"
	"time"

	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/afpacket"
	st "github.com/kubectl-shark/kubectl-shark/pkg/sniffer/internal/sniffertest"
)

// TestLinkTypes captures on tun devices: an ARPHRD_NONE one (raw IP, like
// WireGuard) and one typed ARPHRD_PPP, which has no pcap link type of its own
// here and is written as LINUX_SLL2.
func TestLinkTypes(t *testing.T) {
	st.RequireRoot(t)
	ns := st.NewNetns(t)
	f := ns.Open(t)
	tuns := st.NewTuns(t, ns, f)

	h, err := afpacket.Open(f, afpacket.Config{BlockTimeout: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ref := st.StartTcpdump(t, ns)
	marker := st.NewMarker()
	wait := st.Collect(t, h, marker)

	st.TunTraffic(t, ns, tuns, marker)
	mine := wait()
	ref.WaitFor(t, marker, 30*time.Second)
	if drops := ref.Stop(t); drops != 0 {
		t.Fatalf("tcpdump dropped %d", drops)
	}
	recs := cutAtMarker(t, st.ReadPcap(t, ref.File), marker)

	byIndex := map[int]afpacket.Interface{}
	for _, ifc := range h.Interfaces() {
		byIndex[ifc.Index] = ifc
	}
	for _, tun := range tuns {
		var found bool
		for _, ifc := range byIndex {
			if ifc.Name == tun.Name {
				found = true
				if ifc.LinkType != tun.Want || ifc.HardwareType != tun.HardwareType {
					t.Errorf("%s: %+v, want link type %v, hardware type %d", tun.Name, ifc, tun.Want, tun.HardwareType)
				}
			}
		}
		if !found {
			t.Errorf("no interface %s in %+v", tun.Name, byIndex)
		}
	}

	var got, want []st.Summary
	sll2 := map[string]bool{}
	for _, p := range mine {
		if ifc := byIndex[p.Ifindex]; p.LinkType != ifc.LinkType {
			t.Errorf("packet on %s has link type %v", ifc.Name, p.LinkType)
		}
		if p.LinkType == afpacket.LinkTypeLinuxSLL2 {
			sll2[string(p.Bytes)] = true
		}
		got = append(got, summarize(t, p))
	}
	for _, r := range recs {
		s, _ := st.SummarizeSLL2(r.Data, r.Length)
		want = append(want, s)
		if byIndex[s.Ifindex].LinkType == afpacket.LinkTypeLinuxSLL2 && !sll2[string(r.Data)] {
			t.Errorf("tcpdump's SLL2 frame on %s is not among ours: % x", byIndex[s.Ifindex].Name, r.Data[:20])
		}
	}
	gc, wc := st.Count(got), st.Count(want)
	if len(got) != len(want) || len(gc) != len(wc) {
		t.Errorf("got %d packets (%d distinct), tcpdump %d (%d distinct)", len(got), len(gc), len(want), len(wc))
	}
	for s, n := range wc {
		if gc[s] != n {
			t.Errorf("packet on %s type %d: tcpdump has %d, we have %d", byIndex[s.Ifindex].Name, s.PktType, n, gc[s])
		}
	}
	if len(mine) < 5 {
		t.Errorf("only %d packets", len(mine))
	}
}
