package ebpfcap_test

import (
	"context"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/ebpfcap"
	st "github.com/kubectl-shark/kubectl-shark/pkg/sniffer/internal/sniffertest"
)

func TestNextCloseAndCancel(t *testing.T) {
	st.RequireRoot(t)
	ns := st.NewNetns(t).Open(t)
	h, err := ebpfcap.Open(ns, ebpfcap.Config{})
	if err != nil {
		t.Fatal(err)
	}

	st.CheckNextCloseAndCancel(t, h)
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
	st.CheckNextDoesNotAllocate(t, h, ns)
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
	st.UDPSink(t, ns, 9999)
	fd := st.UDPSender(t, ns, [4]byte{127, 0, 0, 1}, 9999)
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
