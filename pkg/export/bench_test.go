package export

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// benchPackets returns the packets of lo.pcap (real loopback traffic, 66 to 3057 bytes)
// repeated to about size bytes of packet data, with increasing timestamps.
func benchPackets(b *testing.B, size int) []Packet {
	_, res := readAll(b, testdata(b, "lo.pcap"))
	var out []Packet
	t := res.pkts[0].Timestamp
	for n := 0; n < size; {
		for _, p := range res.pkts {
			t = t.Add(10 * time.Microsecond)
			p.Timestamp = t
			out = append(out, p)
			n += len(p.Data)
		}
	}
	return out
}

func benchFile(b *testing.B, ng bool) []byte {
	var buf bytes.Buffer
	var w Writer
	if ng {
		w, _ = NewPcapNGWriter(&buf, PcapNGOptions{})
	} else {
		w, _ = NewPcapWriter(&buf, layers.LinkTypeEthernet, 0)
	}
	w.AddInterface(Interface{LinkType: layers.LinkTypeEthernet})
	for _, p := range benchPackets(b, 32<<20) {
		w.WritePacket(p)
	}
	w.Flush()
	return buf.Bytes()
}

func benchRead(b *testing.B, file []byte) {
	b.SetBytes(int64(len(file)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := Open(bytes.NewReader(file))
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		b.ReportMetric(float64(n), "packets/op")
	}
}

func BenchmarkReadPcapNG(b *testing.B) { benchRead(b, benchFile(b, true)) }
func BenchmarkReadPcap(b *testing.B)   { benchRead(b, benchFile(b, false)) }

// A file read from a pipe-like reader (no Len), as from a sniffer's HTTP stream.
func BenchmarkReadPcapNGStream(b *testing.B) {
	file := benchFile(b, true)
	b.SetBytes(int64(len(file)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := Open(struct{ io.Reader }{bytes.NewReader(file)})
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := r.Next(); err != nil {
				break
			}
		}
	}
}

func benchWrite(b *testing.B, ng bool) {
	pkts := benchPackets(b, 32<<20)
	var size int64
	b.ReportAllocs()
	for b.Loop() {
		cw := &countWriter{}
		var w Writer
		if ng {
			w, _ = NewPcapNGWriter(cw, PcapNGOptions{})
		} else {
			w, _ = NewPcapWriter(cw, layers.LinkTypeEthernet, 0)
		}
		w.AddInterface(Interface{LinkType: layers.LinkTypeEthernet})
		for _, p := range pkts {
			if err := w.WritePacket(p); err != nil {
				b.Fatal(err)
			}
		}
		w.Flush()
		size = cw.n
	}
	b.SetBytes(size)
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func BenchmarkWritePcapNG(b *testing.B) { benchWrite(b, true) }
func BenchmarkWritePcap(b *testing.B)   { benchWrite(b, false) }

// Merging four captures and writing pcapng: the export path.
func BenchmarkMergeCopy(b *testing.B) {
	var files [][]byte
	for range 4 {
		files = append(files, benchFile(b, true))
	}
	var total int64
	for _, f := range files {
		total += int64(len(f))
	}
	b.SetBytes(total)
	b.ReportAllocs()
	for b.Loop() {
		var srcs []Source
		for _, f := range files {
			r, _ := Open(bytes.NewReader(f))
			srcs = append(srcs, r)
		}
		w, _ := NewPcapNGWriter(io.Discard, PcapNGOptions{})
		if err := Copy(w, Merge(srcs...)); err != nil {
			b.Fatal(err)
		}
	}
}
