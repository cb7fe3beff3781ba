package ebpfcap_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/afpacket"
	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/ebpfcap"
	st "github.com/kubectl-shark/kubectl-shark/pkg/sniffer/internal/sniffertest"
	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/netns"
)

// udpSender returns a connected UDP socket created inside ns.
func udpSender(t testing.TB, ns *os.File, ip [4]byte, port int) int {
	t.Helper()
	var fd int
	err := netns.Do(ns, func() error {
		var err error
		if fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err != nil {
			return err
		}
		return unix.Connect(fd, &unix.SockaddrInet4{Addr: ip, Port: port})
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// udpSink binds a UDP socket inside ns so that datagrams to port cause no
// ICMP errors.
func udpSink(t testing.TB, ns *os.File, port int) {
	t.Helper()
	var fd int
	err := netns.Do(ns, func() error {
		var err error
		if fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrInet4{Port: port})
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
}

func TestNextCloseAndCancel(t *testing.T) {
	st.RequireRoot(t)
	ns := st.NewNetns(t).Open(t)
	h, err := ebpfcap.Open(ns, ebpfcap.Config{})
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	go cancel() // while Next waits, or before: the same result
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
	if _, err := h.Next(context.Background()); !errors.Is(err, afpacket.ErrClosed) {
		t.Errorf("Next after Close: %v", err)
	}
	_ = h.Stats()
	if _, ok := h.Interface(1); !ok {
		t.Error("Interface(1) after Close: the last listing is kept")
	}
}

func TestNextDoesNotAllocate(t *testing.T) {
	st.RequireRoot(t)
	ns := st.NewNetns(t).Open(t)
	h, err := ebpfcap.Open(ns, ebpfcap.Config{Filter: compile(t, "udp port 9999")})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	udpSink(t, ns, 9999)
	fd := udpSender(t, ns, [4]byte{127, 0, 0, 1}, 9999)
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

// TestRingFullDropsCounted fills a one-page ring without reading: the packets
// it has no room for are counted, and every packet is accounted for.
func TestRingFullDropsCounted(t *testing.T) {
	st.RequireRoot(t)
	ns := st.NewNetns(t).Open(t)
	h, err := ebpfcap.Open(ns, ebpfcap.Config{SnapLen: 128, RingSize: 1, Filter: compile(t, "udp port 9999")})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	udpSink(t, ns, 9999)
	fd := udpSender(t, ns, [4]byte{127, 0, 0, 1}, 9999)
	const n = 2000 // ~140 bytes a record: a 4 KiB ring holds about 30
	payload := make([]byte, 64)
	for range n {
		if _, err := unix.Write(fd, payload); err != nil {
			t.Fatal(err)
		}
	}
	// Read what the ring holds until every packet is accounted for (the
	// last ones may still be on their way through the loopback backlog).
	deadline := time.Now().Add(30 * time.Second)
	for {
		s := h.Stats()
		if s.Packets == n && s.Packets == s.Delivered+s.KernelDrops+s.Skipped {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v after sending %d packets", s, n)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		h.Next(ctx)
		cancel()
	}
	s := h.Stats()
	t.Logf("%+v", s)
	if s.KernelDrops == 0 || s.Delivered == 0 || s.Skipped != 0 {
		t.Errorf("stats %+v: want drops and deliveries", s)
	}
}
