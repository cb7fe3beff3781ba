package ebpfcap_test

import (
	"net"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"

	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/afpacket"
	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/ebpfcap"
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

// TestLinkTypesSameAsAFPacket captures on tun devices, where TC sees packets
// from their network header: an ARPHRD_NONE one (raw IP, like WireGuard) and
// one typed ARPHRD_PPP (LINUX_SLL2), in both directions, with both backends.
func TestLinkTypesSameAsAFPacket(t *testing.T) {
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

	for _, legacy := range []bool{false, true} {
		t.Run(map[bool]string{false: "tcx", true: "clsact"}[legacy], func(t *testing.T) {
			ref, err := afpacket.Open(f, afpacket.Config{BlockTimeout: 10 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer ref.Close()
			h, err := ebpfcap.Open(f, ebpfcap.Config{ForceLegacyTC: legacy})
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			marker := newMarker()
			waitRef, waitMine := collect(t, ref, marker), collect(t, h, marker)
			for _, tun := range tuns {
				// In: the peer "sends" through the tun fd. Out: a socket sends to the peer.
				if _, err := unix.Write(tun.fd, udpPacket(t, tun.peer, tun.local, []byte("in via "+tun.name))); err != nil {
					t.Fatal(err)
				}
				st.SendUDP(t, ns, tun.peer+":9", []byte("out via "+tun.name))
			}
			st.SendUDP(t, ns, tuns[1].peer+":9", marker)
			want, got := waitRef(), waitMine()
			compare(t, got, want)
			for _, tun := range tuns {
				n := 0
				for _, p := range got {
					if ifc, _ := h.Interface(p.Ifindex); ifc.Name == tun.name {
						n++
						if p.LinkType != tun.want || ifc.LinkType != tun.want || ifc.HardwareType != tun.hatype {
							t.Errorf("%s: packet link type %v, interface %+v; want %v", tun.name, p.LinkType, ifc, tun.want)
						}
					}
				}
				if n < 2 {
					t.Errorf("%d packets on %s", n, tun.name)
				}
			}
		})
	}
}

// TestVLANTagRestored writes an 802.1Q-tagged frame into a tap device: the
// kernel moves the tag into the skb's metadata before the hooks, and both
// backends put it back into the data, which is then the frame as written.
func TestVLANTagRestored(t *testing.T) {
	st.RequireRoot(t)
	ns := st.NewNetns(t)
	f := ns.Open(t)
	const name = "tapvlan"
	var fd int
	err := netns.Do(f, func() error {
		var err error
		if fd, err = unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0); err != nil {
			return err
		}
		ifr, err := unix.NewIfreq(name)
		if err != nil {
			return err
		}
		ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI)
		return unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr)
	})
	if err != nil {
		t.Fatalf("creating tap device: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	st.Run(t, "ip", "-n", ns.Name, "link", "set", name, "up")

	ref, err := afpacket.Open(f, afpacket.Config{Interfaces: []string{name}, BlockTimeout: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	h, err := ebpfcap.Open(f, ebpfcap.Config{Interfaces: []string{name}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	marker := newMarker()
	waitRef, waitMine := collect(t, ref, marker), collect(t, h, marker)

	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeDot1Q}
	vlan := &layers.Dot1Q{VLANIdentifier: 100, Priority: 3, Type: layers.EthernetTypeIPv4}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{}, eth, vlan, gopacket.Payload(udpPacket(t, "198.18.3.2", "198.18.3.1", marker))); err != nil {
		t.Fatal(err)
	}
	frame := buf.Bytes()
	if _, err := unix.Write(fd, frame); err != nil {
		t.Fatal(err)
	}
	want, got := waitRef(), waitMine()
	compare(t, got, want)
	p := got[len(got)-1]
	if string(p.data) != string(frame) || p.Length != len(frame) || p.Protocol != unix.ETH_P_IP {
		t.Errorf("captured %+v\n% x\nwant\n% x", p.Packet, p.data, frame)
	}
}
