package export

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// readMapped is readAll through OpenMapped of a file holding b after a prefix of
// skip bytes (the file's offset is left after the prefix).
func readMapped(t *testing.T, b []byte, skip int) readResult {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c")
	if err := os.WriteFile(path, append(bytes.Repeat([]byte{0xee}, skip), b...), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(int64(skip), io.SeekStart); err != nil {
		t.Fatal(err)
	}
	r, err := OpenMapped(f)
	if err != nil {
		return readResult{err: err}
	}
	defer r.Close()
	var res readResult
	for {
		p, err := r.Next()
		if err != nil {
			res.err = err
			break
		}
		p.Data = bytes.Clone(p.Data)
		res.pkts = append(res.pkts, p)
	}
	res.ifaces = r.Interfaces()
	return res
}

func mapEverything(t *testing.T) {
	old, oldRel := mapMin, releaseEvery
	mapMin, releaseEvery = 0, 4096
	t.Cleanup(func() { mapMin, releaseEvery = old, oldRel })
}

// A mapped file reads exactly as a stream: the same packets, interfaces and errors
// (with their offsets), whole or cut at any byte.
func TestMappedMatchesStream(t *testing.T) {
	mapEverything(t)
	for _, fx := range fixtures {
		full := testdata(t, fx.name)
		step := 11
		if testing.Short() {
			step = 97
		}
		for n := len(full); n >= 0; n -= step {
			_, want := readAll(t, full[:n])
			got := readMapped(t, full[:n], n%3*1000)
			if len(got.pkts) != len(want.pkts) || errString(got.err) != errString(want.err) {
				t.Fatalf("%s cut at %d: mapped %d packets, %v; stream %d packets, %v", fx.name, n, len(got.pkts), got.err, len(want.pkts), want.err)
			}
			for i := range want.pkts {
				if !equalPacket(got.pkts[i], want.pkts[i]) {
					t.Fatalf("%s cut at %d: packet %d differs", fx.name, n, i)
				}
			}
			if len(got.ifaces) != len(want.ifaces) {
				t.Fatalf("%s cut at %d: %d interfaces, want %d", fx.name, n, len(got.ifaces), len(want.ifaces))
			}
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// A large file is read through the releases of the pages behind the reader.
func TestMappedLarge(t *testing.T) {
	mapEverything(t)
	var buf bytes.Buffer
	w, err := NewPcapNGWriter(&buf, PcapNGOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.AddInterface(Interface{LinkType: layers.LinkTypeEthernet, SnapLen: 262144}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1700000000, 0)
	for i := range 3000 {
		data := bytes.Repeat([]byte{byte(i)}, 1+i*7%9000)
		if err := w.WritePacket(Packet{Timestamp: t0.Add(time.Duration(i)), Data: data, Length: len(data)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	_, want := readAll(t, buf.Bytes())
	got := readMapped(t, buf.Bytes(), 0)
	if got.err != io.EOF || len(got.pkts) != 3000 || len(want.pkts) != 3000 {
		t.Fatalf("mapped: %d packets, %v; stream: %d packets, %v", len(got.pkts), got.err, len(want.pkts), want.err)
	}
	for i := range want.pkts {
		if !equalPacket(got.pkts[i], want.pkts[i]) {
			t.Fatalf("packet %d differs", i)
		}
	}
}

// Compressed, small and non-regular inputs take the stream path.
func TestMappedFallback(t *testing.T) {
	gz := testdata(t, "lo.pcapng.gz")
	_, want := readAll(t, gz)
	if got := readMapped(t, gz, 0); len(got.pkts) != len(want.pkts) || !errors.Is(got.err, io.EOF) {
		t.Fatalf("gzip: %d packets, %v", len(got.pkts), got.err)
	}
	mapEverything(t)
	if got := readMapped(t, gz, 0); len(got.pkts) != len(want.pkts) || !errors.Is(got.err, io.EOF) {
		t.Fatalf("gzip, mapping allowed: %d packets, %v", len(got.pkts), got.err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() { pw.Write(testdata(t, "lo.pcap")); pw.Close() }()
	r, err := OpenMapped(pr)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		if _, err := r.Next(); err != nil {
			break
		}
		n++
	}
	r.Close()
	pr.Close()
	if n != 38 {
		t.Fatalf("pipe: %d packets, want 38", n)
	}
}
