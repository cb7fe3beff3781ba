package sniffertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"

	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/afpacket"
	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/netns"
)

// Source is what both capture handles, AF_PACKET's and eBPF's, offer.
type Source interface {
	Next(ctx context.Context) (afpacket.Packet, error)
	Stats() afpacket.Stats
}

// Handle is a Source that can be closed and names its interfaces.
type Handle interface {
	Source
	Interface(ifindex int) (afpacket.Interface, bool)
	Close() error
}

// Captured is a packet with a copy of its bytes, which stay valid after the
// next read.
type Captured struct {
	afpacket.Packet
	Bytes []byte
}

// NewMarker returns a random payload that tells the last packet of a test.
func NewMarker() []byte {
	b := make([]byte, 8)
	rand.Read(b)
	return []byte("shark-marker-" + hex.EncodeToString(b))
}

// Collect reads packets from h in the background until one contains marker
// (included); the returned function waits for and returns copies of them all.
// Reading runs concurrently with the traffic, as in the agent.
func Collect(t *testing.T, h Source, marker []byte) func() []Captured {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	type result struct {
		pkts []Captured
		err  error
	}
	done := make(chan result, 1)
	go func() {
		defer cancel()
		var pkts []Captured
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
			pkts = append(pkts, Captured{p, bytes.Clone(p.Data)})
			if bytes.Contains(p.Data, marker) {
				done <- result{pkts, nil}
				return
			}
		}
	}()
	return func() []Captured {
		t.Helper()
		r := <-done
		if r.err != nil {
			t.Fatalf("reading packets (after %d): %v; stats %+v", len(r.pkts), r.err, h.Stats())
		}
		return r.pkts
	}
}

// CheckInterfaces checks that every packet comes from an interface h knows,
// with that interface's link type, and that some came from each of want.
func CheckInterfaces(t *testing.T, h Handle, pkts []Captured, want ...string) {
	t.Helper()
	seen := map[string]int{}
	for _, p := range pkts {
		ifc, ok := h.Interface(p.Ifindex)
		if !ok {
			t.Fatalf("packet from unknown ifindex %d", p.Ifindex)
		}
		seen[ifc.Name]++
		if p.LinkType != ifc.LinkType {
			t.Errorf("packet on %s has link type %v, interface %v", ifc.Name, p.LinkType, ifc.LinkType)
		}
	}
	for _, name := range want {
		if seen[name] == 0 {
			t.Errorf("packets per interface %v: want some on %s", seen, name)
		}
	}
}

// Count counts the occurrences of each value of xs.
func Count[T comparable](xs []T) map[T]int {
	m := map[T]int{}
	for _, x := range xs {
		m[x]++
	}
	return m
}

// udpSocket creates a UDP socket inside ns, passes it to setup and closes it
// when the test ends.
func udpSocket(t testing.TB, ns *os.File, setup func(fd int) error) int {
	t.Helper()
	var fd int
	err := netns.Do(ns, func() error {
		var err error
		if fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err != nil {
			return err
		}
		return setup(fd)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// UDPSender returns a connected UDP socket created inside ns.
func UDPSender(t testing.TB, ns *os.File, ip [4]byte, port int) int {
	t.Helper()
	return udpSocket(t, ns, func(fd int) error {
		return unix.Connect(fd, &unix.SockaddrInet4{Addr: ip, Port: port})
	})
}

// UDPSink binds a UDP socket inside ns so that datagrams to port cause no
// ICMP errors.
func UDPSink(t testing.TB, ns *os.File, port int) {
	t.Helper()
	udpSocket(t, ns, func(fd int) error { return unix.Bind(fd, &unix.SockaddrInet4{Port: port}) })
}

// UDPPacket builds an IPv4/UDP packet from port 4321 to port 9.
func UDPPacket(t testing.TB, src, dst string, payload []byte) []byte {
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

// Tun is a tun device of NewTuns, up, with a point-to-point address.
type Tun struct {
	Name, Local, Peer string
	HardwareType      uint16
	Want              afpacket.LinkType // the link type its packets are captured with
	FD                int
}

// NewTuns creates two tun devices in ns: an ARPHRD_NONE one (raw IP, like
// WireGuard) and one typed ARPHRD_PPP, which has no pcap link type of its own
// here and is captured as LINUX_SLL2. They are closed when the test ends.
func NewTuns(t testing.TB, ns Netns, f *os.File) []Tun {
	t.Helper()
	tuns := []Tun{
		{"tunraw", "198.18.1.1", "198.18.1.2", unix.ARPHRD_NONE, afpacket.LinkTypeRaw, -1},
		{"tunppp", "198.18.2.1", "198.18.2.2", unix.ARPHRD_PPP, afpacket.LinkTypeLinuxSLL2, -1},
	}
	err := netns.Do(f, func() error {
		for i := range tuns {
			fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
			if err != nil {
				return err
			}
			tuns[i].FD = fd
			ifr, err := unix.NewIfreq(tuns[i].Name)
			if err != nil {
				return err
			}
			ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
			if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
				return err
			}
			if tuns[i].HardwareType != unix.ARPHRD_NONE {
				if err := unix.IoctlSetInt(fd, unix.TUNSETLINK, int(tuns[i].HardwareType)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	for _, tun := range tuns {
		if tun.FD >= 0 {
			t.Cleanup(func() { unix.Close(tun.FD) })
		}
	}
	if err != nil {
		t.Fatalf("creating tun devices: %v", err)
	}
	for _, tun := range tuns {
		Run(t, "ip", "-n", ns.Name, "addr", "add", tun.Local, "peer", tun.Peer, "dev", tun.Name)
		Run(t, "ip", "-n", ns.Name, "link", "set", tun.Name, "up")
	}
	return tuns
}

// TunTraffic sends a datagram in and one out through each tun, then marker
// out through the last one.
func TunTraffic(t testing.TB, ns Netns, tuns []Tun, marker []byte) {
	t.Helper()
	for _, tun := range tuns {
		// In: the peer "sends" through the tun fd. Out: a socket sends to the peer.
		if _, err := unix.Write(tun.FD, UDPPacket(t, tun.Peer, tun.Local, []byte("in via "+tun.Name))); err != nil {
			t.Fatal(err)
		}
		SendUDP(t, ns, tun.Peer+":9", []byte("out via "+tun.Name))
	}
	SendUDP(t, ns, tuns[len(tuns)-1].Peer+":9", marker)
}

// CheckNextCloseAndCancel checks how h.Next ends: on cancel, at the deadline,
// and, when it waits without one, on Close; then Close again and Next after it.
func CheckNextCloseAndCancel(t *testing.T, h Handle) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	go func() { waitBlockedInNext(t); cancel() }()
	if _, err := h.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Next after cancel: %v", err)
	}
	ctx, cancel = context.WithTimeout(t.Context(), 30*time.Millisecond)
	defer cancel()
	if _, err := h.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Next past deadline: %v", err)
	}

	// Close wakes a Next that waits without a deadline.
	done := make(chan error)
	go func() {
		_, err := h.Next(context.Background())
		done <- err
	}()
	waitBlockedInNext(t)
	if err := h.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, afpacket.ErrClosed) {
			t.Errorf("Next after Close: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not wake Next")
	}
	if err := h.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := h.Next(context.Background()); !errors.Is(err, afpacket.ErrClosed) {
		t.Errorf("Next after Close: %v", err)
	}
	_ = h.Stats()
}

// waitBlockedInNext waits until a goroutine is parked (not running) inside a
// Handle's Next: the readiness signal for "Next is waiting for packets".
func waitBlockedInNext(t *testing.T) {
	buf := make([]byte, 1<<20)
	end := time.Now().Add(30 * time.Second)
	for d := time.Millisecond; ; d = min(2*d, 20*time.Millisecond) {
		n := runtime.Stack(buf, true)
		for _, g := range strings.Split(string(buf[:n]), "\n\n") {
			head, _, _ := strings.Cut(g, "\n")
			if strings.Contains(g, ").Next(") && strings.Contains(g, "*Handle") &&
				!strings.Contains(head, "[running]") && !strings.Contains(head, "[runnable]") {
				return
			}
		}
		if time.Now().After(end) {
			t.Error("no goroutine blocked in Next")
			return
		}
		time.Sleep(d)
	}
}

// CheckNextDoesNotAllocate sends 3000 datagrams to udp port 9999 over lo of
// ns and checks that reading them with h.Next allocates nothing; h is to
// capture that port.
func CheckNextDoesNotAllocate(t *testing.T, h Source, ns *os.File) {
	t.Helper()
	UDPSink(t, ns, 9999)
	fd := UDPSender(t, ns, [4]byte{127, 0, 0, 1}, 9999)
	payload := make([]byte, 64)
	const n = 3000
	for range n {
		if _, err := unix.Write(fd, payload); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if _, err := h.Next(ctx); err != nil { // warm up
		t.Fatal(err)
	}
	var nextErr error
	allocs := testing.AllocsPerRun(n/2, func() {
		if _, err := h.Next(ctx); err != nil {
			nextErr = err
		}
	})
	if nextErr != nil {
		t.Fatal(nextErr)
	}
	if allocs != 0 {
		t.Errorf("Next allocates %v times per packet", allocs)
	}
	if s := h.Stats(); s.KernelDrops != 0 {
		t.Logf("stats: %+v", s)
	}
}

// BenchFlood writes b.N 64-byte datagrams to fd while reading h, until every
// packet is read or counted as dropped, and reports packets per second read
// and the drops per packet.
func BenchFlood(b *testing.B, h Source, fd int) {
	payload := make([]byte, 64)
	ctx, cancel := context.WithTimeout(b.Context(), 5*time.Minute)
	defer cancel()
	n := uint64(b.N)
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	wg.Go(func() {
		for range n {
			unix.Write(fd, payload)
		}
		// Stop reading once every packet is read or counted as dropped.
		for ctx.Err() == nil {
			if s := h.Stats(); s.Delivered+s.KernelDrops >= n {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	})
	var got uint64
	for {
		if _, err := h.Next(ctx); err != nil {
			break
		}
		got++
	}
	elapsed := time.Since(start)
	b.StopTimer()
	wg.Wait()
	s := h.Stats()
	b.ReportMetric(float64(got)/elapsed.Seconds(), "pkts/s")
	b.ReportMetric(float64(s.KernelDrops)/float64(n), "drops/pkt")
}

// BenchDrain measures reading alone: batches of 64-byte datagrams are written
// to fd and left to reach h (settle waits for them, given the number sent so
// far), not timed, then read with h.Next.
func BenchDrain(b *testing.B, h Source, fd int, settle func(sent uint64)) {
	payload := make([]byte, 64)
	const batch = 5000 // well within the rings' capacity
	ctx := b.Context()
	b.ReportAllocs()
	b.ResetTimer()
	var bytes int64
	var sent uint64
	for done := 0; done < b.N; {
		b.StopTimer()
		k := min(batch, b.N-done)
		for range k {
			unix.Write(fd, payload)
		}
		sent += uint64(k)
		settle(sent)
		if s := h.Stats(); s.KernelDrops != 0 {
			b.Fatalf("ring overflowed while filling: %+v", s)
		}
		b.StartTimer()
		for range k {
			p, err := h.Next(ctx)
			if err != nil {
				b.Fatal(err)
			}
			bytes += int64(p.CaptureLength)
		}
		done += k
	}
	b.StopTimer()
	b.SetBytes(bytes / int64(b.N))
}

// HTTPTraffic fetches ngx's files from the client over the veth pair (port 80
// and 8080), checking their contents, and one over lo in the server's
// namespace.
func HTTPTraffic(t testing.TB, pair *Pair, ngx *Nginx) {
	t.Helper()
	for _, url := range []string{"http://" + ServerIP + "/big", "http://" + ServerIP + ":8080/small", "http://" + ServerIP + "/big"} {
		got := pair.Client.Run(t, "curl", "-sS", "--max-time", "20", url)
		path := url[strings.LastIndex(url, "/"):]
		if got != string(ngx.Files[path]) {
			t.Fatalf("curl %s: got %d bytes, want %d", url, len(got), len(ngx.Files[path]))
		}
	}
	pair.Server.Run(t, "curl", "-sS", "--max-time", "20", "-o", "/dev/null", "http://127.0.0.1/big")
}
