package afpacket_test

import (
	"testing"
	"time"

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
			st.UDPSink(b, server, 9999)
			fd := st.UDPSender(b, client, [4]byte{198, 18, 0, 1}, 9999)
			var ref *st.Tcpdump
			if withTcpdump {
				ref = st.StartTcpdump(b, pair.Server, "udp port 9999")
			}
			st.BenchFlood(b, h, fd)
			if ref != nil {
				b.ReportMetric(float64(ref.Stop(b))/float64(b.N), "tcpdump-drops/pkt")
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
	st.UDPSink(b, ns, 9999)
	fd := st.UDPSender(b, ns, [4]byte{127, 0, 0, 1}, 9999)
	st.BenchDrain(b, h, fd, func(uint64) {
		time.Sleep(30 * time.Millisecond) // let the last block retire
	})
}
