package fifo

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
	"github.com/kubectl-shark/kubectl-shark/pkg/export"
)

func frame(i int) []byte {
	b := make([]byte, 200)
	binary.BigEndian.PutUint32(b[20:], uint32(i)) // a sequence number to check order
	return b
}

func dirSize(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		fi, err := e.Info()
		if err == nil {
			n += fi.Size()
		}
	}
	return n
}

func TestCapHoldsOldestFirst(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Dir: dir, SegmentSize: 16 << 10, BufferSize: 64 << 10, Application: "test"}
	f, res, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.NextStream != 1 || res.Segments != 0 {
		t.Fatalf("fresh dir resume %+v", res)
	}
	if _, err := f.AddInterface(export.Interface{LinkType: layers.LinkTypeEthernet, Name: "eth0", SnapLen: 65535}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1700000000, 0)
	const n = 3000 // ~700 KB of packets: the 64 KiB cap overruns ten times over
	for i := 0; i < n; i++ {
		if err := f.WritePacket(export.Packet{Timestamp: t0.Add(time.Duration(i) * time.Millisecond), Data: frame(i), Length: 200}, dissect.StreamID(i/10+1)); err != nil {
			t.Fatal(err)
		}
		if i%100 == 0 {
			if err := f.WriteEntry(&dissect.Entry{ID: uint64(i/100 + 1), Stream: dissect.StreamID(i/10 + 1), Protocol: "HTTP", Timestamp: t0.Add(time.Duration(i) * time.Millisecond)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.Flush(); err != nil {
			t.Fatal(err)
		}
		if got := dirSize(t, dir); got > cfg.BufferSize+cfg.SegmentSize+4096 {
			t.Fatalf("after packet %d the directory holds %d bytes: cap %d plus one segment %d exceeded", i, got, cfg.BufferSize, cfg.SegmentSize)
		}
	}
	st := f.Stats()
	if st.DroppedSegments == 0 || st.DroppedPackets == 0 {
		t.Errorf("no segment dropped: %+v", st)
	}
	if st.Packets+st.DroppedPackets != n {
		t.Errorf("held %d + dropped %d != written %d", st.Packets, st.DroppedPackets, n)
	}
	// The packets held are exactly the newest ones, in order, with their streams.
	var seqs []int
	err = f.ScanPackets(func(p export.Packet, ifaces []export.Interface, stream dissect.StreamID) error {
		seq := int(binary.BigEndian.Uint32(p.Data[20:]))
		if want := dissect.StreamID(seq/10 + 1); stream != want {
			t.Fatalf("packet %d has stream %d, want %d", seq, stream, want)
		}
		if ifaces[p.Interface].Name != "eth0" {
			t.Fatalf("interface %q", ifaces[p.Interface].Name)
		}
		seqs = append(seqs, seq)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if uint64(len(seqs)) != st.Packets || seqs[len(seqs)-1] != n-1 || seqs[0] != int(st.DroppedPackets) {
		t.Errorf("held packets %d..%d (%d), stats %+v", seqs[0], seqs[len(seqs)-1], len(seqs), st)
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			t.Fatalf("gap between %d and %d", seqs[i-1], seqs[i])
		}
	}
	if !st.Oldest.Equal(t0.Add(time.Duration(seqs[0]) * time.Millisecond)) {
		t.Errorf("oldest %v", st.Oldest)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestRestartAfterCrash(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Dir: dir, SegmentSize: 8 << 10, BufferSize: 1 << 20}
	f, _, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.AddInterface(export.Interface{LinkType: layers.LinkTypeEthernet, Name: "eth0"})
	t0 := time.Unix(1700000000, 0)
	for i := 0; i < 200; i++ {
		f.WritePacket(export.Packet{Timestamp: t0.Add(time.Duration(i) * time.Millisecond), Data: frame(i), Length: 200}, dissect.StreamID(i+1))
	}
	f.WriteEntry(&dissect.Entry{ID: 41, Stream: 150, Protocol: "DNS", Timestamp: t0})
	f.Flush()
	// Simulate kill -9 mid-write: a torn packet block at the end of the open
	// segment, and half an entry line. No Close.
	segs, _ := filepath.Glob(filepath.Join(dir, "seg-*.pcapng"))
	last := segs[len(segs)-1]
	fh, _ := os.OpenFile(last, os.O_APPEND|os.O_WRONLY, 0)
	fh.Write([]byte{6, 0, 0, 0, 0xff, 0, 0, 0, 1, 2})
	fh.Close()
	eh, _ := os.OpenFile(filepath.Join(dir, filepath.Base(last[:len(last)-len("pcapng")])+"entries"), os.O_APPEND|os.O_WRONLY, 0)
	eh.Write([]byte(`{"ID":42,"Proto`))
	eh.Close()

	g, res, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Packets != 200 || res.NextStream != 201 || res.NextEntry != 42 {
		t.Errorf("resume %+v, want 200 packets, next stream 201, next entry 42", res)
	}
	g.AddInterface(export.Interface{LinkType: layers.LinkTypeEthernet, Name: "eth0"})
	g.WritePacket(export.Packet{Timestamp: t0.Add(time.Second), Data: frame(200), Length: 200}, res.NextStream)
	var count int
	if err := g.ScanPackets(func(export.Packet, []export.Interface, dissect.StreamID) error { count++; return nil }); err != nil {
		t.Fatal(err)
	}
	if count != 201 {
		t.Errorf("after restart %d packets are served, want 201", count)
	}
	var entries int
	g.ScanEntries(func(e *dissect.Entry) error { entries++; return nil })
	if entries != 1 {
		t.Errorf("%d entries survive, want 1 (the torn one dropped)", entries)
	}
	g.Close()
}

// Segments are deleted in the background, but the files on disk never exceed the
// cap by more than one segment, and Stats counts a segment until its files are gone.
func TestBackgroundDeletionKeepsCap(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Dir: dir, SegmentSize: 256 << 10, BufferSize: 1 << 20}
	f, _, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.AddInterface(export.Interface{LinkType: layers.LinkTypeEthernet, Name: "eth0", SnapLen: 262144}); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 60000)
	t0 := time.Unix(1700000000, 0)
	const segSlack = 256<<10 + 60000 + 4096 // a segment overshoots by up to one packet
	for i := 0; i < 400; i++ {              // ~24 MB through a 1 MiB FIFO
		if err := f.WritePacket(export.Packet{Timestamp: t0.Add(time.Duration(i) * time.Millisecond), Data: data, Length: len(data)}, 1); err != nil {
			t.Fatal(err)
		}
		if got := dirSize(t, dir); got > cfg.BufferSize+segSlack {
			t.Fatalf("after packet %d the directory holds %d bytes: cap %d plus one segment exceeded", i, got, cfg.BufferSize)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	st := f.Stats()
	if st.DroppedSegments < 70 {
		t.Errorf("%d segments dropped, want most of them", st.DroppedSegments)
	}
	if got := dirSize(t, dir); got != st.Bytes {
		t.Errorf("after Close the directory holds %d bytes, Stats says %d", got, st.Bytes)
	}
}
