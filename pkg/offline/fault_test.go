package offline

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/kubectl-shark/kubectl-shark/pkg/export"
)

// A capture file truncated while it is mapped and read makes the reader fault on the
// lost pages: Entries and Export report that as an error instead of crashing.
func TestFileTruncatedWhileRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.pcapng")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := export.NewPcapNGWriter(f, export.PcapNGOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.AddInterface(export.Interface{LinkType: layers.LinkTypeEthernet, SnapLen: 65535}); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 1500)
	for i := range 2000 { // 3 MB: over OpenMapped's threshold
		if err := w.WritePacket(export.Packet{Timestamp: time.Unix(1700000000, int64(i)), Data: data, Length: len(data)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()

	in, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	packets := 0
	err = func() (err error) {
		defer catchFault(Input{Path: path}, &err, debug.SetPanicOnFault(true))
		r, err := openReader(in)
		if err != nil {
			return err
		}
		defer r.Close()
		if err := os.Truncate(path, 0); err != nil {
			t.Fatal(err)
		}
		for {
			p, err := r.Next()
			if err != nil {
				return err
			}
			packets += int(p.Data[0]) + 1 // touch the data
		}
	}()
	if err == nil || !strings.Contains(err.Error(), "changed while it was read") {
		t.Fatalf("got %v after %d packets, want the truncation reported", err, packets)
	}
}
