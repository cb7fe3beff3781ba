package export

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"unicode/utf8"
)

const readBufSize = 256 << 10

// Reader reads packets from a pcap or pcapng stream. Create it with Open or OpenFile.
// A Reader is not safe for concurrent use.
type Reader struct {
	br      *bufio.Reader
	mm      []byte // the mapped file (OpenMapped), read instead of br
	mpos    int    // position in mm
	mfree   int    // mm before this offset was released (releasePages)
	closers []io.Closer
	off     int64 // offset of the next unread byte
	format  Format
	gzipped bool
	hdr     [8]byte
	buf     []byte // scratch for records larger than the bufio buffer
	err     error  // sticky: returned by every Next after the first error

	ifaces []Interface
	ts     []tsConv // per interface, parallel to ifaces
	names  []NameRecord
	stats  []InterfaceStats

	order byteOrder // of the pcap file or the current pcapng section

	// classic pcap
	modified bool

	// pcapng
	sectionBase int // global index of the current section's first interface

	pending    bool // pkt holds a packet read ahead by Open
	pkt        Packet
	pendingErr error
}

// Open detects the format of r (pcap, pcapng, either of them gzip-compressed) and
// reads its header. For pcapng it also reads ahead to the first packet so that
// Interfaces is complete for ordinary files; an error found while reading ahead is
// returned by the first Next that reaches it, after the packets before it.
func Open(r io.Reader) (*Reader, error) {
	rd := &Reader{br: bufio.NewReaderSize(r, bufSize(r))}
	if err := rd.start(); err != nil {
		return nil, err
	}
	return rd, nil
}

// OpenFile opens the capture file at path; Close closes it.
func OpenFile(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	rd, err := Open(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	rd.closers = append(rd.closers, f)
	return rd, nil
}

// mapMin is the smallest file OpenMapped maps (a variable for tests).
var mapMin int64 = 1 << 20

// releaseEvery is how many bytes of a mapped file are read between releases of the
// pages already read, which bounds what the mapping adds to the resident set.
var releaseEvery = 256 << 10

// OpenMapped is Open for a regular file read from its current offset to its end: the
// file is mapped into memory and packets point into the mapping rather than being
// copied out of the page cache. Close must be called; it unmaps the file.
//
// Packet.Data stays readable after the next call, but a file truncated while it is
// read makes the process fault on the lost pages (SIGBUS): callers that cannot rule
// that out recover from it with debug.SetPanicOnFault. Small, compressed or unmappable
// files (and platforms without mmap) are read as Open reads them.
func OpenMapped(f *os.File) (*Reader, error) {
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() < mapMin || strconv.IntSize < 64 {
		return Open(f)
	}
	start, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return Open(f)
	}
	mm, err := mapFile(f, fi.Size())
	if err != nil || len(mm) < int(start)+2 || mm[start] == 0x1f && mm[start+1] == 0x8b {
		if err == nil {
			unmapFile(mm)
		}
		return Open(f)
	}
	rd := &Reader{mm: mm, mpos: int(start), mfree: int(start) &^ (os.Getpagesize() - 1)}
	rd.closers = append(rd.closers, mapping(mm))
	if err := rd.start(); err != nil {
		rd.Close()
		return nil, err
	}
	// The file offset follows what was read, as after Open.
	if _, err := f.Seek(fi.Size(), io.SeekStart); err != nil {
		rd.Close()
		return nil, err
	}
	return rd, nil
}

type mapping []byte

func (m mapping) Close() error { return unmapFile(m) }

// peek returns up to n bytes ahead without consuming them.
func (r *Reader) peek(n int) []byte {
	if r.mm != nil {
		return r.mm[r.mpos:min(r.mpos+n, len(r.mm)):min(r.mpos+n, len(r.mm))]
	}
	b, _ := r.br.Peek(n)
	return b
}

// Close releases the gzip decompressor, the mapping of OpenMapped and, for OpenFile,
// the file.
func (r *Reader) Close() error {
	var errs []error
	for i := len(r.closers) - 1; i >= 0; i-- {
		errs = append(errs, r.closers[i].Close())
	}
	r.closers = nil
	return errors.Join(errs...)
}

// Format reports whether the stream is pcap or pcapng.
func (r *Reader) Format() Format { return r.format }

// Compressed reports whether the input was gzip-compressed. Offsets in FormatErrors then
// count decompressed bytes.
func (r *Reader) Compressed() bool { return r.gzipped }

// Interfaces returns the interfaces read so far, indexed by Packet.Interface. It grows
// when a later pcapng section or Interface Description Block is read. The slice belongs
// to the Reader: do not modify it.
func (r *Reader) Interfaces() []Interface { return r.ifaces }

// Names returns the name resolution records read so far (pcapng only).
func (r *Reader) Names() []NameRecord { return r.names }

// Stats returns the interface statistics blocks read so far (pcapng only); their
// Interface fields index Interfaces.
func (r *Reader) Stats() []InterfaceStats { return r.stats }

// Offset returns the number of bytes consumed so far (decompressed, for gzip input).
func (r *Reader) Offset() int64 { return r.off }

// Next returns the next packet. It returns io.EOF at the clean end of the stream and a
// *FormatError for malformed or truncated data; once it has returned an error it
// returns the same error on every later call. Packet.Data is valid until the next call.
func (r *Reader) Next() (Packet, error) {
	if r.pending {
		r.pending = false
		return r.pkt, nil
	}
	if r.pendingErr != nil {
		r.err, r.pendingErr = r.pendingErr, nil
	}
	if r.err != nil {
		return Packet{}, r.err
	}
	var err error
	if r.format == FormatPcap {
		err = r.nextPcap()
	} else {
		err = r.nextPcapNG()
	}
	if err != nil {
		r.err = err
		return Packet{}, err
	}
	return r.pkt, nil
}

func (r *Reader) start() error {
	head := r.peek(4)
	if len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(r.br)
		if err != nil {
			return fmt.Errorf("reading gzip header: %w", err)
		}
		r.closers = append(r.closers, zr)
		r.br = bufio.NewReaderSize(zr, readBufSize)
		r.gzipped = true
		head, _ = r.br.Peek(4)
	}
	if len(head) == 4 {
		switch {
		case bytes.Equal(head, []byte{0x0a, 0x0d, 0x0d, 0x0a}):
			r.format = FormatPcapNG
			return r.startPcapNG()
		case binary.LittleEndian.Uint32(head)&0xffff0000 == 0xa1b20000,
			binary.BigEndian.Uint32(head)&0xffff0000 == 0xa1b20000:
			if err := r.startPcap(); err != errNotPcap {
				return err
			}
		}
	}
	return r.unknownFormat()
}

// bufSize picks the read buffer size: readBufSize, or less for input known to be small.
func bufSize(r io.Reader) int {
	n := int64(readBufSize)
	switch v := r.(type) {
	case interface{ Len() int }: // bytes.Reader, strings.Reader, bytes.Buffer
		n = int64(v.Len())
	case *os.File:
		if fi, err := v.Stat(); err == nil && fi.Mode().IsRegular() {
			n = fi.Size()
		}
	}
	return int(max(min(n, readBufSize), 4096))
}

// byteOrder is binary.ByteOrder without the interface call: its methods inline.
type byteOrder struct{ big bool }

func (o byteOrder) Uint16(b []byte) uint16 {
	if o.big {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (o byteOrder) Uint32(b []byte) uint32 {
	if o.big {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

func (o byteOrder) Uint64(b []byte) uint64 {
	if o.big {
		return binary.BigEndian.Uint64(b)
	}
	return binary.LittleEndian.Uint64(b)
}

func (o byteOrder) PutUint32(b []byte, v uint32) {
	if o.big {
		binary.BigEndian.PutUint32(b, v)
	} else {
		binary.LittleEndian.PutUint32(b, v)
	}
}

var errNotPcap = errors.New("not pcap")

// unknownFormat builds the error for input that is neither pcap nor pcapng, saying what
// it looks like instead.
func (r *Reader) unknownFormat() error {
	head := r.peek(16)
	what := ""
	if r.gzipped {
		what = " after gzip decompression"
	}
	if len(head) == 0 {
		if r.gzipped {
			return fmt.Errorf("%w (empty after gzip decompression)", ErrUnknownFormat)
		}
		return fmt.Errorf("%w (the input is empty)", ErrUnknownFormat)
	}
	if len(head) < 4 {
		return fmt.Errorf("%w (only %d bytes%s)", ErrUnknownFormat, len(head), what)
	}
	show := head
	if len(show) > 8 {
		show = show[:8]
	}
	if guess := guessFormat(head); guess != "" {
		return fmt.Errorf("%w (starts with %q%s: %s)", ErrUnknownFormat, show, what, guess)
	}
	return fmt.Errorf("%w (starts with %q%s)", ErrUnknownFormat, show, what)
}

func guessFormat(b []byte) string {
	has := func(p string) bool { return bytes.HasPrefix(b, []byte(p)) }
	switch {
	case has("PK\x03\x04"):
		return "a zip archive?"
	case has("\x28\xb5\x2f\xfd"):
		return "zstd-compressed: decompress it first (zstd -d)"
	case has("\xfd7zXZ\x00"):
		return "xz-compressed: decompress it first (xz -d)"
	case has("BZh"):
		return "bzip2-compressed: decompress it first (bunzip2)"
	case has("\x04\x22\x4d\x18"):
		return "lz4-compressed: decompress it first (lz4 -d)"
	case has("\x1f\x8b"):
		return "gzip-compressed twice?"
	case has("snoop\x00\x00\x00"):
		return "a Solaris snoop capture: convert it with 'editcap -F pcapng'"
	case has("GMBU"):
		return "a Microsoft Network Monitor capture: convert it with 'editcap -F pcapng'"
	case has("XCP\x00"):
		return "a NetXray/Sniffer capture: convert it with 'editcap -F pcapng'"
	case has("\x7fELF"):
		return "an ELF executable"
	case has("ustar") || len(b) > 262 && bytes.Equal(b[257:262], []byte("ustar")):
		return "a tar archive?"
	}
	if utf8.Valid(b) && bytes.IndexFunc(b, func(c rune) bool { return c < 0x20 && c != '\n' && c != '\r' && c != '\t' }) < 0 {
		return "looks like text, not a capture (tcpdump -w writes captures; tcpdump without -w prints text)"
	}
	return ""
}

// read returns the next n bytes of the stream, valid until the next read. It returns
// fewer than n bytes only together with an error (io.EOF if none were left).
func (r *Reader) read(n int) ([]byte, error) {
	if r.mm != nil {
		return r.readMapped(n)
	}
	if n <= r.br.Size() {
		b, err := r.br.Peek(n)
		if len(b) == n {
			r.br.Discard(n)
			r.off += int64(n)
			return b, nil
		}
		if err == nil || err == bufio.ErrBufferFull {
			err = io.ErrUnexpectedEOF
		}
		if len(b) > 0 && err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		r.off += int64(len(b))
		r.br.Discard(len(b))
		return b, err
	}
	// Grow the buffer as data arrives rather than trusting n: a corrupt length then
	// costs at most about twice the bytes actually present.
	b := r.buf[:0]
	for len(b) < n {
		chunk := min(n-len(b), max(len(b), r.br.Size()))
		b = slices.Grow(b, chunk)
		m, err := io.ReadFull(r.br, b[len(b):len(b)+chunk])
		b = b[:len(b)+m]
		r.off += int64(m)
		if err != nil {
			r.buf = b[:0]
			if err == io.EOF && len(b) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return b, err
		}
	}
	r.buf = b[:0]
	return b, nil
}

// readMapped is read for a mapped file: the bytes are a window of the mapping (its
// capacity capped, since the mapping is read-only).
func (r *Reader) readMapped(n int) ([]byte, error) {
	end := r.mpos + n
	var err error
	if n > len(r.mm)-r.mpos {
		end = len(r.mm)
		err = io.ErrUnexpectedEOF
		if end == r.mpos {
			err = io.EOF
		}
	}
	b := r.mm[r.mpos:end:end]
	r.off += int64(end - r.mpos)
	r.mpos = end
	if r.mpos-r.mfree >= releaseEvery {
		// Pages behind the previous record are not needed any more (reading them
		// again would still work: they are only unmapped from this process).
		upto := (r.mpos - n) &^ (os.Getpagesize() - 1)
		if upto > r.mfree {
			releasePages(r.mm[r.mfree:upto])
			r.mfree = upto
		}
	}
	return b, err
}

// readRecord reads the n bytes of a record starting at offset start, of which have were
// already consumed, and turns a short read into a truncation FormatError.
func (r *Reader) readRecord(start int64, what string, n, have int) ([]byte, error) {
	b, err := r.read(n - have)
	if err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, &FormatError{Offset: start, Msg: "truncated " + what,
				Detail: fmt.Sprintf("need %d bytes, have %d", n, have+len(b)), Err: io.ErrUnexpectedEOF}
		}
		return nil, fmt.Errorf("reading %s at offset %d: %w", what, start, err)
	}
	return b, nil
}
