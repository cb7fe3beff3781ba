package fifo

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
	"github.com/kubectl-shark/kubectl-shark/pkg/export"
)

// BenchmarkWritePacket writes packets through rotation and the byte cap, as the
// sniffer's capture loop does: 4 MiB segments in a 32 MiB FIFO, so that every run
// rotates and drops segments many times, and an entry every 8 packets. Sizes: a
// 64-byte UDP datagram, a full Ethernet frame, and a 64 KiB GSO super-packet as
// AF_PACKET delivers them on veth and loopback.
func BenchmarkWritePacket(b *testing.B) {
	for _, size := range []int{106, 1514, 65226} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			f, _, err := Open(Config{Dir: b.TempDir(), SegmentSize: 4 << 20, BufferSize: 32 << 20, Application: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			idx, err := f.AddInterface(export.Interface{LinkType: layers.LinkTypeEthernet, Name: "eth0", SnapLen: 262144})
			if err != nil {
				b.Fatal(err)
			}
			data := make([]byte, size)
			t0 := time.Unix(1700000000, 0)
			entry := &dissect.Entry{Protocol: dissect.ProtoHTTP, Timestamp: t0, HTTP: &dissect.HTTP{Method: "GET", URL: "/", StatusCode: 200,
				Request: dissect.HTTPMessage{Headers: map[string]string{"host": "example", "user-agent": "bench"}}}}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			cpu0 := cpuTime()
			i := 0
			for b.Loop() {
				p := export.Packet{Timestamp: t0.Add(time.Duration(i) * time.Microsecond), Interface: idx, CaptureLength: size, Length: size,
					Data: data, Flags: export.FlagInbound}
				if err := f.WritePacket(p, dissect.StreamID(i/16+1)); err != nil {
					b.Fatal(err)
				}
				if i%8 == 0 {
					entry.ID = uint64(i/8 + 1)
					if err := f.WriteEntry(entry); err != nil {
						b.Fatal(err)
					}
				}
				i++
			}
			b.StopTimer()
			// CPU time (user and system, the deleting goroutine's too) is steadier
			// than wall time on a shared machine.
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
			st := f.Stats()
			if err := f.Close(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(st.DroppedSegments)/float64(b.N)*1e6, "drops/Mpkt")
		})
	}
}

// cpuTime returns the CPU time the process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
