package tls

import (
	"strings"
	"testing"
	"time"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect/internal/dissecttest"
)

// benchChunks cuts a script into 1448-byte chunks (a typical MSS), as the pipeline
// would feed it.
func benchChunks(script []chunk) ([]dissect.Chunk, int) {
	now := time.Unix(1773525600, 0)
	clock := func(int) time.Time { return now }
	var out []dissect.Chunk
	total := 0
	for _, c := range dissecttest.Resplit(script, 1448) {
		out = append(out, dissect.Chunk{Side: c.Side, Data: []byte(c.Data), Time: clock})
		total += len(c.Data)
	}
	return out, total
}

// appData is n bytes of application data in full-size records.
func appData(size int) string {
	var b strings.Builder
	const n = maxPlaintext + 256 // an AEAD record's overhead is at most 256 bytes
	rec := string([]byte{ctApplicationData, 3, 3, n >> 8, n & 0xff}) + strings.Repeat("\xa5", n)
	for b.Len() < size {
		b.WriteString(rec)
	}
	return b.String()
}

func benchParser(b *testing.B, script []chunk, wantEntries int) {
	chunks, total := benchChunks(script)
	entries := 0
	emit := func(*dissect.Entry, dissect.Side) { entries++ }
	b.SetBytes(int64(total))
	b.ReportAllocs()
	for b.Loop() {
		p := Dissector.NewParser(emit)
		for _, c := range chunks {
			p.Feed(c)
		}
		p.Close(time.Time{})
	}
	if entries != wantEntries*b.N {
		b.Fatalf("%d entries, want %d", entries, wantEntries*b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "conns/s")
}

// BenchmarkParser measures one connection: a bare TLS 1.3 handshake (the parsing
// cost), the same followed by 1 MiB of application data each way (skipped once the
// entry is out: the cost per byte should be nil), and a ClientHello followed by
// 1 MiB of client records without a ServerHello (skipped record by record).
func BenchmarkParser(b *testing.B) {
	ch, sh := fixturePair(b, "TLS 1.3")
	data := appData(1 << 20)
	b.Run("handshake", func(b *testing.B) {
		benchParser(b, []chunk{{Side: A, Data: ch}, {Side: B, Data: sh}}, 1)
	})
	b.Run("session=1MiB", func(b *testing.B) {
		benchParser(b, []chunk{{Side: A, Data: ch}, {Side: B, Data: sh}, {Side: A, Data: data}, {Side: B, Data: data}}, 1)
	})
	b.Run("no-ServerHello=1MiB", func(b *testing.B) {
		benchParser(b, []chunk{{Side: A, Data: ch}, {Side: A, Data: data}}, 1)
	})
}

// BenchmarkHello measures the hello parsers alone on the fixtures' messages.
func BenchmarkHello(b *testing.B) {
	ch, sh := fixturePair(b, "TLS 1.3")
	chMsg, _ := unrecord(b, ch)
	shMsg, _ := unrecord(b, sh)
	chBody, shBody := []byte(chMsg[4:]), []byte(shMsg[4:4+be24([]byte(shMsg[1:4]))])
	b.SetBytes(int64(len(chBody) + len(shBody)))
	b.ReportAllocs()
	for b.Loop() {
		if h, err := parseClientHello(chBody, false); err != nil || h.sni == "" {
			b.Fatal(err)
		}
		if h, err := parseServerHello(shBody, false); err != nil || h.suite == 0 {
			b.Fatal(err)
		}
	}
}

// BenchmarkReplay measures the whole pipeline (decoding, reassembly, TLS) on the
// capture.
func BenchmarkReplay(b *testing.B) {
	entries, _ := dissecttest.ReplayTCP(b, "testdata/tls.pcapng", Dissector)
	var size int64
	for _, e := range entries {
		size += int64(e.TLS.RequestSize + e.TLS.ResponseSize)
	}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		dissecttest.ReplayTCP(b, "testdata/tls.pcapng", Dissector)
	}
}
