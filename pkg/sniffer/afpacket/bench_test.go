package afpacket_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/afpacket"
	st "github.com/kubectl-shark/kubectl-shark/pkg/sniffer/internal/sniffertest"
)

// BenchmarkNextVethFlood floods 64-byte UDP datagrams from the client
// namespace over the veth pair, b.N of them, and reads them with Next in the
// server namespace (filter "udp port 9999"). It reports packets per second
// read, and the kernel drops of our ring and, in the "tcpdump" variant, of a
// tcpdump capturing the same flood alongside.
func BenchmarkNextVethFlood(b *testing.B) {
	st.RequireRoot(b)
	for _, withTcpdump := range []bool{false, true} {
		name := "alone"
		if withTcpdump {
			name = "tcpdump"
		}
		b.Run(name, func(b *testing.B) {
			pair := st.NewPair(b)
			server, client := pair.Server.Open(b), pair.Client.Open(b)
			filter := tcpdumpDD(b, "udp port 9999")
			h, err := afpacket.Open(server, afpacket.Config{Filter: filter})
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close()
			udpSink(b, server, 9999)
			fd := udpSender(b, client, [4]byte{198, 18, 0, 1}, 9999)
			var ref *st.Tcpdump
			if withTcpdump {
				ref = st.StartTcpdump(b, pair.Server, "udp port 9999")
			}
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
			if ref != nil {
				b.ReportMetric(float64(ref.Stop(b))/float64(n), "tcpdump-drops/pkt")
			}
		})
	}
}

// BenchmarkNextDrain measures the ring reader alone: batches of 64-byte UDP
// datagrams over lo are put into the ring first and left to retire (not
// timed), then read.
func BenchmarkNextDrain(b *testing.B) {
	st.RequireRoot(b)
	ns := st.NewNetns(b).Open(b)
	h, err := afpacket.Open(ns, afpacket.Config{Filter: tcpdumpDD(b, "udp port 9999"), BlockTimeout: 10 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	udpSink(b, ns, 9999)
	fd := udpSender(b, ns, [4]byte{127, 0, 0, 1}, 9999)
	payload := make([]byte, 64)
	const batch = 5000 // well below the ring's capacity even with partly filled blocks
	ctx := b.Context()
	b.ReportAllocs()
	b.ResetTimer()
	var bytes int64
	for done := 0; done < b.N; {
		b.StopTimer()
		k := min(batch, b.N-done)
		for range k {
			unix.Write(fd, payload)
		}
		time.Sleep(30 * time.Millisecond) // let the last block retire
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
