package afpacket_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/afpacket"
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
	h, err := afpacket.Open(ns, afpacket.Config{})
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
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
	time.Sleep(50 * time.Millisecond) // let Next block; the result is the same if it has not yet
	if err := h.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, afpacket.ErrClosed) {
			t.Errorf("Next after Close: %v", err)
		}
	case <-time.After(10 * time.Second):
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

func TestNextDoesNotAllocate(t *testing.T) {
	st.RequireRoot(t)
	ns := st.NewNetns(t).Open(t)
	h, err := afpacket.Open(ns, afpacket.Config{BlockTimeout: time.Millisecond})
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
	if _, err := h.Next(ctx); err != nil { // warm up: first block
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
