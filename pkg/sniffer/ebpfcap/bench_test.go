package ebpfcap_test

import (
	"testing"
	"time"

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
			st.UDPSink(b, server, 9999)
			fd := st.UDPSender(b, client, [4]byte{198, 18, 0, 1}, 9999)
			st.BenchFlood(b, h, fd)
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
	st.UDPSink(b, ns, 9999)
	fd := st.UDPSender(b, ns, [4]byte{127, 0, 0, 1}, 9999)
	st.BenchDrain(b, h, fd, func(sent uint64) {
		for h.Stats().Packets < sent { // the loopback backlog is processed asynchronously
			time.Sleep(time.Millisecond)
		}
	})
}
