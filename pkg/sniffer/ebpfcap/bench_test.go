package ebpfcap_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/ebpfcap"
	st "github.com/kubectl-shark/kubectl-shark/pkg/sniffer/internal/sniffertest"
)

// BenchmarkNextVethFlood floods 64-byte UDP datagrams from the client
// namespace over the veth pair, b.N of them, and reads them with Next in the
// server namespace (filter "udp port 9999", in the kernel), as
// afpacket.BenchmarkNextVethFlood does. It reports packets per second read and
// the ring's drops.
func BenchmarkNextVethFlood(b *testing.B) {
	st.RequireRoot(b)
	for _, legacy := range []bool{false, true} {
		b.Run(map[bool]string{false: "tcx", true: "clsact"}[legacy], func(b *testing.B) {
			pair := st.NewPair(b)
			server, client := pair.Server.Open(b), pair.Client.Open(b)
			h, err := ebpfcap.Open(server, ebpfcap.Config{Filter: compile(b, "udp port 9999"), ForceLegacyTC: legacy})
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close()
			udpSink(b, server, 9999)
			fd := udpSender(b, client, [4]byte{198, 18, 0, 1}, 9999)
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
		})
	}
}

// BenchmarkNextDrain measures the ring reader alone: batches of 64-byte UDP
// datagrams over lo are put into the ring first (not timed), then read.
func BenchmarkNextDrain(b *testing.B) {
	st.RequireRoot(b)
	ns := st.NewNetns(b).Open(b)
	h, err := ebpfcap.Open(ns, ebpfcap.Config{Filter: compile(b, "udp port 9999")})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	udpSink(b, ns, 9999)
	fd := udpSender(b, ns, [4]byte{127, 0, 0, 1}, 9999)
	payload := make([]byte, 64)
	const batch = 5000 // about 0.8 MB of records: the 8 MiB ring holds them all
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
		for h.Stats().Packets < sent { // the loopback backlog is processed asynchronously
			time.Sleep(time.Millisecond)
		}
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
