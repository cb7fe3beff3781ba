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

// TestLinkTypesSameAsAFPacket captures on tun devices, where TC sees packets
// from their network header: an ARPHRD_NONE one (raw IP, like WireGuard) and
// one typed ARPHRD_PPP (LINUX_SLL2), in both directions, with both backends.
func TestLinkTypesSameAsAFPacket(t *testing.T) {
	st.RequireRoot(t)
	ns := st.NewNetns(t)
	f := ns.Open(t)
	tuns := st.NewTuns(t, ns, f)

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
			marker := st.NewMarker()
			waitRef, waitMine := st.Collect(t, ref, marker), st.Collect(t, h, marker)
			st.TunTraffic(t, ns, tuns, marker)
			want, got := waitRef(), waitMine()
			compare(t, got, want)
			for _, tun := range tuns {
				n := 0
				for _, p := range got {
					if ifc, _ := h.Interface(p.Ifindex); ifc.Name == tun.Name {
						n++
						if p.LinkType != tun.Want || ifc.LinkType != tun.Want || ifc.HardwareType != tun.HardwareType {
							t.Errorf("%s: packet link type %v, interface %+v; want %v", tun.Name, p.LinkType, ifc, tun.Want)
						}
					}
				}
				if n < 2 {
					t.Errorf("%d packets on %s", n, tun.Name)
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
	marker := st.NewMarker()
	waitRef, waitMine := st.Collect(t, ref, marker), st.Collect(t, h, marker)

	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeDot1Q}
	vlan := &layers.Dot1Q{VLANIdentifier: 100, Priority: 3, Type: layers.EthernetTypeIPv4}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{}, eth, vlan, gopacket.Payload(st.UDPPacket(t, "198.18.3.2", "198.18.3.1", marker))); err != nil {
		t.Fatal(err)
	}
	frame := buf.Bytes()
	if _, err := unix.Write(fd, frame); err != nil {
		t.Fatal(err)
	}
	want, got := waitRef(), waitMine()
	compare(t, got, want)
	p := got[len(got)-1]
	if string(p.Bytes) != string(frame) || p.Length != len(frame) || p.Protocol != unix.ETH_P_IP {
		t.Errorf("captured %+v\n% x\nwant\n% x", p.Packet, p.Bytes, frame)
	}
}
