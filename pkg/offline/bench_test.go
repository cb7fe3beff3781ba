package offline_test

import (
	"context"
	"flag"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect/protocols"
	"github.com/kubectl-shark/kubectl-shark/pkg/kfl"
	"github.com/kubectl-shark/kubectl-shark/pkg/offline"
)

// benchFile is the capture BenchmarkEntries reads. The default is the small nginx
// capture of the HTTP dissector's tests; pass a generated one for realistic numbers:
//
//	go run ./hack/bench/gen -kind http -size 100M -o /tmp/http.pcapng
//	go test -run '^$' -bench Entries ./pkg/offline -offline.file /tmp/http.pcapng
var benchFile = flag.String("offline.file", "../dissect/http/testdata/nginx.pcap", "capture file read by BenchmarkEntries")

// BenchmarkEntries measures `entries -r FILE --kfl EXPR`: reading, decoding, TCP
// reassembly, every dissector and the filter.
func BenchmarkEntries(b *testing.B) {
	st, err := os.Stat(*benchFile)
	if err != nil {
		b.Fatal(err)
	}
	for _, expr := range []string{"false", "http && status_code == 500"} {
		b.Run(expr, func(b *testing.B) {
			f, err := kfl.Compile(expr)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(st.Size())
			b.ReportAllocs()
			var entries uint64
			cpu0 := cpuTime()
			for b.Loop() {
				_, res, err := offline.Entries(context.Background(), offline.Input{Path: *benchFile}, protocols.Config(), f)
				if err != nil {
					b.Fatal(err)
				}
				entries += res.Entries
			}
			b.ReportMetric(float64(entries)/float64(b.N), "entries/op")
			// CPU time (user and system, every thread: the garbage collector's too)
			// is steadier than wall time on a shared machine.
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
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
