package export

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReader feeds arbitrary bytes to the reader: it must not panic or allocate beyond
// MaxBlockSize, must keep its invariants, and whatever it reads must survive a pcapng
// round trip.
func FuzzReader(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.pcap*"))
	if len(files) == 0 {
		f.Fatal("no seed captures in testdata")
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		if len(b) > 4096 { // keep seeds small: the head of each file
			f.Add(b[:4096])
		} else {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Open(bytes.NewReader(data))
		if err != nil {
			return
		}
		var pkts []Packet
		for len(pkts) < 10000 {
			p, err := r.Next()
			if err != nil {
				var fe *FormatError
				if err != io.EOF && !errors.As(err, &fe) && !r.Compressed() {
					t.Fatalf("error of type %T: %v", err, err)
				}
				if _, err2 := r.Next(); err2 != err {
					t.Fatalf("error not sticky: %v then %v", err, err2)
				}
				break
			}
			if len(p.Data) != p.CaptureLength || p.Interface < 0 || p.Interface >= len(r.Interfaces()) {
				t.Fatalf("bad packet: caplen %d, len(Data) %d, interface %d of %d", p.CaptureLength, len(p.Data), p.Interface, len(r.Interfaces()))
			}
			p.Data = bytes.Clone(p.Data)
			pkts = append(pkts, p)
		}
		// Round trip what was read through the pcapng writer.
		var out bytes.Buffer
		w, err := NewPcapNGWriter(&out, PcapNGOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, iface := range r.Interfaces() {
			if _, err := w.AddInterface(iface); err != nil {
				t.Fatal(err)
			}
		}
		var written []Packet
		for _, p := range pkts {
			if _, ok := nsTicks(p.Timestamp); !ok {
				continue // outside what pcapng nanoseconds hold
			}
			if err := w.WritePacket(p); err != nil {
				t.Fatalf("writing %+v: %v", p, err)
			}
			p.Length = max(p.Length, len(p.Data))
			if snap := r.Interfaces()[p.Interface].SnapLen; snap > 0 && len(p.Data) > snap {
				p.Data = p.Data[:snap]
				p.CaptureLength = snap
			}
			written = append(written, p)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		_, back := readAll(t, out.Bytes())
		if back.err != io.EOF || len(back.pkts) != len(written) {
			t.Fatalf("round trip: %d of %d packets, %v", len(back.pkts), len(written), back.err)
		}
		for i, p := range written {
			if !equalPacket(back.pkts[i], p) {
				t.Fatalf("round trip packet %d:\n got %+v\nwant %+v", i, back.pkts[i], p)
			}
		}
	})
}
