package afpacket_test

import (
	"net"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"

	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/afpacket"
	st "github.com/kubectl-shark/kubectl-shark/pkg/sniffer/internal/sniffertest"
	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/netns"
)

// udpPacket builds an IPv4/UDP packet.
func udpPacket(t *testing.T, src, dst string, payload []byte) []byte {
	t.Helper()
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
	udp := &layers.UDP{SrcPort: 4321, DstPort: 9}
	udp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip, udp, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestLinkTypes captures on tun devices: an ARPHRD_NONE one (raw IP, like
// WireGuard) and one typed ARPHRD_PPP, which has no pcap link type of its own
// here and is written as LINUX_SLL2.
func TestLinkTypes(t *testing.T) {
	st.RequireRoot(t)
	ns := st.NewNetns(t)
	f := ns.Open(t)
	tuns := []struct {
		name, local, peer string
		hatype            uint16
		want              afpacket.LinkType
		fd                int
	}{
		{"tunraw", "198.18.1.1", "198.18.1.2", unix.ARPHRD_NONE, afpacket.LinkTypeRaw, -1},
		{"tunppp", "198.18.2.1", "198.18.2.2", unix.ARPHRD_PPP, afpacket.LinkTypeLinuxSLL2, -1},
	}
	err := netns.Do(f, func() error {
		for i := range tuns {
			fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
			if err != nil {
				return err
			}
			tuns[i].fd = fd
			ifr, err := unix.NewIfreq(tuns[i].name)
			if err != nil {
				return err
			}
			ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
			if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
				return err
			}
			if tuns[i].hatype != unix.ARPHRD_NONE {
				if err := unix.IoctlSetInt(fd, unix.TUNSETLINK, int(tuns[i].hatype)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	for _, tun := range tuns {
		if tun.fd >= 0 {
			t.Cleanup(func() { unix.Close(tun.fd) })
		}
	}
	if err != nil {
		t.Fatalf("creating tun devices: %v", err)
	}
	for _, tun := range tuns {
		st.Run(t, "ip", "-n", ns.Name, "addr", "add", tun.local, "peer", tun.peer, "dev", tun.name)
		st.Run(t, "ip", "-n", ns.Name, "link", "set", tun.name, "up")
	}

	h, err := afpacket.Open(f, afpacket.Config{BlockTimeout: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ref := st.StartTcpdump(t, ns)
	marker := newMarker(t)
	wait := collect(t, h, marker)

	for _, tun := range tuns {
		// In: the peer "sends" through the tun fd. Out: a socket sends to the peer.
		if _, err := unix.Write(tun.fd, udpPacket(t, tun.peer, tun.local, []byte("in via "+tun.name))); err != nil {
			t.Fatal(err)
		}
		st.SendUDP(t, ns, tun.peer+":9", []byte("out via "+tun.name))
	}
	st.SendUDP(t, ns, tuns[1].peer+":9", marker)
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
			if ifc.Name == tun.name {
				found = true
				if ifc.LinkType != tun.want || ifc.HardwareType != tun.hatype {
					t.Errorf("%s: %+v, want link type %v, hardware type %d", tun.name, ifc, tun.want, tun.hatype)
				}
			}
		}
		if !found {
			t.Errorf("no interface %s in %+v", tun.name, byIndex)
		}
	}

	var got, want []st.Summary
	sll2 := map[string]bool{}
	for _, p := range mine {
		if ifc := byIndex[p.Ifindex]; p.LinkType != ifc.LinkType {
			t.Errorf("packet on %s has link type %v", ifc.Name, p.LinkType)
		}
		if p.LinkType == afpacket.LinkTypeLinuxSLL2 {
			sll2[string(p.data)] = true
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
	gc, wc := count(got), count(want)
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
