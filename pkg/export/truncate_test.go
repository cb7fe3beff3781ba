package export

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

// record is one pcap record or pcapng block as found by walk, an oracle independent of
// the reader.
type record struct {
	start, end int
	packet     bool
}

func walk(t *testing.T, b []byte) (header int, recs []record) {
	t.Helper()
	switch binary.LittleEndian.Uint32(b) {
	case pcapMagicMicro, pcapMagicNano, pcapMagicModified:
		hdr := 16
		if binary.LittleEndian.Uint32(b) == pcapMagicModified {
			hdr = 24
		}
		for off := 24; off < len(b); {
			end := off + hdr + int(binary.LittleEndian.Uint32(b[off+8:]))
			recs = append(recs, record{off, end, true})
			off = end
		}
		return 24, recs
	case blockSHB:
		for off := 0; off < len(b); {
			typ, n := binary.LittleEndian.Uint32(b[off:]), int(binary.LittleEndian.Uint32(b[off+4:]))
			recs = append(recs, record{off, off + n, typ == blockEPB || typ == blockSPB || typ == blockOPB})
			off += n
		}
		return recs[0].end, recs[1:]
	}
	t.Fatal("walk: not a little-endian capture")
	return 0, nil
}

// TestTruncation cuts captures at every byte offset: the reader must return exactly the
// packets whose records are complete, then io.EOF at a record boundary or a FormatError
// naming the offset of the cut record.
func TestTruncation(t *testing.T) {
	for _, name := range []string{"lo.pcap", "lo-mod.pcap", "raw.pcap", "lo.pcapng", "dumpcap.pcapng", "merged.pcapng", "sections.pcapng"} {
		t.Run(name, func(t *testing.T) {
			full := testdata(t, name)
			_, all := readAll(t, full)
			header, recs := walk(t, full)
			if recs[len(recs)-1].end != len(full) {
				t.Fatalf("walk ends at %d of %d bytes", recs[len(recs)-1].end, len(full))
			}
			step := 1
			if testing.Short() {
				step = 7
			}
			for n := 0; n <= len(full); n += step {
				_, res := readAll(t, full[:n])
				var fe *FormatError
				if n < header {
					if n < 4 && !errors.Is(res.err, ErrUnknownFormat) ||
						n >= 4 && (!errors.As(res.err, &fe) || fe.Offset != 0 || !errors.Is(res.err, io.ErrUnexpectedEOF)) {
						t.Fatalf("cut at %d (inside the file header): %v", n, res.err)
					}
					continue
				}
				wantPkts, wantErrAt := 0, -1
				for _, r := range recs {
					if r.end <= n && r.packet {
						wantPkts++
					}
					if r.start < n && n < r.end {
						wantErrAt = r.start
					}
				}
				if len(res.pkts) != wantPkts {
					t.Fatalf("cut at %d: %d packets, want %d (error %v)", n, len(res.pkts), wantPkts, res.err)
				}
				for i, p := range res.pkts {
					if !equalPacket(p, all.pkts[i]) {
						t.Fatalf("cut at %d: packet %d differs", n, i)
					}
				}
				if wantErrAt < 0 {
					if res.err != io.EOF {
						t.Fatalf("cut at %d (a record boundary): %v, want io.EOF", n, res.err)
					}
					continue
				}
				if !errors.As(res.err, &fe) || fe.Offset != int64(wantErrAt) || !errors.Is(res.err, io.ErrUnexpectedEOF) {
					t.Fatalf("cut at %d: %v, want a truncation FormatError at offset %d", n, res.err, wantErrAt)
				}
			}
		})
	}
}

// Cutting the compressed stream: a prefix of the packets and an error, never a panic.
func TestTruncationGzip(t *testing.T) {
	full := testdata(t, "lo.pcapng.gz")
	_, all := readAll(t, full)
	for n := 0; n < len(full); n++ {
		_, res := readAll(t, full[:n])
		if res.err == nil || res.err == io.EOF {
			t.Fatalf("cut at %d: no error", n)
		}
		for i, p := range res.pkts {
			if !equalPacket(p, all.pkts[i]) {
				t.Fatalf("cut at %d: packet %d differs", n, i)
			}
		}
		if n > len(full)/2 && len(res.pkts) == 0 {
			t.Fatalf("cut at %d of %d: no packets", n, len(full))
		}
	}
	if !bytes.Equal(full[:2], []byte{0x1f, 0x8b}) {
		t.Fatal("fixture is not gzip")
	}
}
