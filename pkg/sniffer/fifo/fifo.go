// Package fifo is the sniffer's bounded, node-local packet store: a directory of
// rotating segments, each a self-contained pcapng file plus two sidecars: the stream ID
// of every packet (.streams, 4 bytes per packet, in packet order) and the entries
// dissected while the segment was open (.entries, one JSON object per line).
//
// The byte cap is a hard promise: after every write, the oldest segments are dropped
// until the segments held fit in BufferSize (the open segment, which never grows past
// SegmentSize by more than one packet, is never dropped). A dropped segment's files
// are deleted by a background goroutine, so that unlinking them does not stall the
// writer; while one deletion is under way the next is done in line, so the files on
// disk never exceed the cap by more than one segment. On start, Open re-indexes what a
// previous run left (truncating a torn tail after a crash) and carries on with the
// next segment number, stream ID and entry ID.
//
// A FIFO is safe for concurrent use: one goroutine writes, any number scan.
package fifo

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
	"github.com/kubectl-shark/kubectl-shark/pkg/export"
)

// Config sizes the FIFO.
type Config struct {
	Dir         string
	SegmentSize int64         // rotate when a segment's packets reach this many bytes
	SegmentAge  time.Duration // rotate a segment this old (0: never by age)
	BufferSize  int64         // total bytes kept on disk (all segments, with sidecars)
	Application string        // pcapng shb_userappl
}

// Stats describe the FIFO's contents and losses.
type Stats struct {
	Bytes           int64 // bytes on disk
	Segments        int
	Packets         uint64 // packets held
	Entries         uint64 // entries held
	Oldest, Newest  time.Time
	DroppedSegments uint64 // segments deleted to honour BufferSize
	DroppedPackets  uint64 // packets in them
	WriteErrors     uint64 // packets lost to write errors (e.g. a full disk)
	DamagedReads    uint64 // scans that found a segment cut short (served up to the damage)
	LastError       string
}

// Resume is what Open found on disk, for the next pipeline to continue from.
type Resume struct {
	NextStream dissect.StreamID
	NextEntry  uint64
	Segments   int
	Packets    uint64
}

// pcapBuffer is the open segment's write buffer: a 64 KiB GSO packet would otherwise
// be a write of its own.
const pcapBuffer = 256 << 10

// ErrClosed is returned by writes after Close.
var ErrClosed = errors.New("fifo closed")

type segment struct {
	num          int
	packets      uint64
	entries      uint64
	pcapBytes    int64
	streamsBytes int64
	entriesBytes int64
	first, last  time.Time
	rotateAt     time.Time // when the segment was opened, plus Config.SegmentAge
	open         bool
}

func (s *segment) size() int64 { return s.pcapBytes + s.streamsBytes + s.entriesBytes }

// FIFO is the segment store.
type FIFO struct {
	cfg Config

	mu       sync.RWMutex // guards segs, the open segment's writers and stats
	segs     []*segment
	cur      *segment
	ifaces   []export.Interface
	pcapF    *os.File
	pcapW    *export.PcapNGWriter
	cw       countingWriter
	streamsF *os.File
	streamsW *bufio.Writer
	entriesF *os.File
	entriesW *bufio.Writer
	jsonBuf  []byte
	sid      [4]byte   // a stream ID being written
	flushAt  time.Time // packet time of the next flush
	stats    Stats
	closed   bool

	nextNum int // number of the next segment
	// closedBytes caches the size of the closed segments in segs; stale when
	// closedStale (the list changed).
	closedBytes int64
	closedStale bool

	// Background deletion of dropped segments (their numbers), at most one at a
	// time: deleting says whether one is under way, deletingBytes its size (still
	// on disk).
	del           chan int
	delDone       chan struct{}
	deleting      bool
	deletingBytes int64
}

// Open opens (creating if needed) the FIFO in cfg.Dir, re-indexing existing segments.
func Open(cfg Config) (*FIFO, Resume, error) {
	var res Resume
	if cfg.SegmentSize <= 0 || cfg.BufferSize <= 0 {
		return nil, res, fmt.Errorf("opening fifo: segment size and buffer size must be positive")
	}
	if cfg.SegmentSize > cfg.BufferSize {
		cfg.SegmentSize = cfg.BufferSize
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, res, fmt.Errorf("creating data directory: %w", err)
	}
	f := &FIFO{cfg: cfg, nextNum: 1, closedStale: true, del: make(chan int, 1), delDone: make(chan struct{})}
	if err := f.reindex(&res); err != nil {
		return nil, res, err
	}
	go f.deleter()
	f.enforceCap()
	return f, res, nil
}

// deleter removes the files of dropped segments until Close.
func (f *FIFO) deleter() {
	defer close(f.delDone)
	for num := range f.del {
		f.removeSegmentFiles(num)
		f.mu.Lock()
		f.deleting, f.deletingBytes = false, 0
		f.mu.Unlock()
	}
}

func (f *FIFO) path(num int, ext string) string {
	return filepath.Join(f.cfg.Dir, fmt.Sprintf("seg-%08d.%s", num, ext))
}

// reindex scans the directory: every segment's pcapng is read to its last complete
// block (a torn tail is cut off), the sidecars are cut to match.
func (f *FIFO) reindex(res *Resume) error {
	names, err := filepath.Glob(filepath.Join(f.cfg.Dir, "seg-*.pcapng"))
	if err != nil {
		return err
	}
	var nums []int
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(n), "seg-"), ".pcapng")
		if v, err := strconv.Atoi(base); err == nil {
			nums = append(nums, v)
		}
	}
	sort.Ints(nums)
	res.NextStream, res.NextEntry = 1, 1
	for _, num := range nums {
		f.nextNum = max(f.nextNum, num+1)
		s, err := f.recoverSegment(num, res)
		if err != nil {
			// An unreadable segment is dropped rather than blocking the capture.
			f.removeSegmentFiles(num)
			f.stats.LastError = fmt.Sprintf("dropped unreadable segment %d: %v", num, err)
			continue
		}
		if s.packets == 0 && s.entries == 0 {
			f.removeSegmentFiles(num)
			continue
		}
		f.segs = append(f.segs, s)
		res.Segments++
		res.Packets += s.packets
	}
	return nil
}

func (f *FIFO) recoverSegment(num int, res *Resume) (*segment, error) {
	s := &segment{num: num}
	pf, err := os.OpenFile(f.path(num, "pcapng"), os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer pf.Close()
	r, err := export.Open(pf)
	if err != nil {
		return nil, err
	}
	good := r.Offset()
	for {
		p, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			break // torn tail: keep what was complete
		}
		s.packets++
		if s.first.IsZero() {
			s.first = p.Timestamp
		}
		s.last = p.Timestamp
		good = r.Offset()
	}
	if err := pf.Truncate(good); err != nil {
		return nil, err
	}
	s.pcapBytes = good

	// Stream IDs: exactly one per packet kept.
	sf, err := os.OpenFile(f.path(num, "streams"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	defer sf.Close()
	st, _ := sf.Stat()
	have := uint64(st.Size() / 4)
	if have < s.packets {
		s.packets = have // packets whose stream was never written are unusable
	}
	if err := sf.Truncate(int64(s.packets) * 4); err != nil {
		return nil, err
	}
	s.streamsBytes = int64(s.packets) * 4
	br := bufio.NewReader(sf)
	var b [4]byte
	for i := uint64(0); i < s.packets; i++ {
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return nil, err
		}
		if id := dissect.StreamID(binary.LittleEndian.Uint32(b[:])); id >= res.NextStream {
			res.NextStream = id + 1
		}
	}

	// Entries: complete lines only.
	ef, err := os.OpenFile(f.path(num, "entries"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	defer ef.Close()
	var keep int64
	sc := bufio.NewScanner(ef)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e dissect.Entry
		if err := json.Unmarshal(line, &e); err != nil {
			break
		}
		keep += int64(len(line)) + 1
		s.entries++
		if e.ID >= res.NextEntry {
			res.NextEntry = e.ID + 1
		}
		if e.Stream >= res.NextStream {
			res.NextStream = e.Stream + 1
		}
	}
	if err := ef.Truncate(keep); err != nil {
		return nil, err
	}
	s.entriesBytes = keep
	return s, nil
}

func (f *FIFO) removeSegmentFiles(num int) {
	for _, ext := range []string{"pcapng", "streams", "entries"} {
		os.Remove(f.path(num, ext))
	}
}

// AddInterface declares a capture interface; its index is used in WritePacket. Every
// segment declares all interfaces known when it opens, in this order, and later ones
// as they are added.
func (f *FIFO) AddInterface(ifc export.Interface) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ifaces = append(f.ifaces, ifc)
	if f.pcapW != nil {
		if _, err := f.pcapW.AddInterface(ifc); err != nil {
			return 0, err
		}
	}
	return len(f.ifaces) - 1, nil
}

// Interfaces returns the declared interfaces.
func (f *FIFO) Interfaces() []export.Interface {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return append([]export.Interface(nil), f.ifaces...)
}

// WritePacket appends a packet and its stream ID to the open segment, rotating and
// dropping old segments as needed.
func (f *FIFO) WritePacket(p export.Packet, stream dissect.StreamID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrClosed
	}
	if f.cur != nil && (f.cur.pcapBytes >= f.cfg.SegmentSize ||
		(f.cfg.SegmentAge > 0 && !p.Timestamp.Before(f.cur.rotateAt) && f.cur.packets > 0)) {
		if err := f.rotateLocked(); err != nil {
			return f.writeFailed(err)
		}
	}
	if f.cur == nil {
		if err := f.openSegmentLocked(p.Timestamp); err != nil {
			return f.writeFailed(err)
		}
	}
	if err := f.pcapW.WritePacket(p); err != nil {
		return f.writeFailed(err)
	}
	binary.LittleEndian.PutUint32(f.sid[:], uint32(stream))
	if _, err := f.streamsW.Write(f.sid[:]); err != nil {
		return f.writeFailed(err)
	}
	s := f.cur
	s.packets++
	s.streamsBytes += 4
	if s.first.IsZero() {
		s.first = p.Timestamp
	}
	s.last = p.Timestamp
	// The pcapng writer buffers; count what it will write (exact again at Flush).
	s.pcapBytes += int64(pcapngOverhead(len(p.Data)))
	if !p.Timestamp.Before(f.flushAt) {
		// Bound what a killed process loses to about a second of packets, however
		// large the buffers.
		if err := f.flushLocked(); err != nil {
			return f.writeFailed(err)
		}
	}
	f.enforceCapLocked()
	return nil
}

// flushEvery is how often (packet time) WritePacket pushes the buffers to the files.
const flushEvery = time.Second

// pcapngOverhead approximates an EPB's size for accounting between flushes.
func pcapngOverhead(n int) int { return 32 + (n+3)&^3 }

// WriteEntry appends an entry to the open segment's index.
func (f *FIFO) WriteEntry(e *dissect.Entry) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrClosed
	}
	if f.cur == nil {
		if err := f.openSegmentLocked(e.Timestamp); err != nil {
			return f.writeFailed(err)
		}
	}
	var err error
	f.jsonBuf, err = appendJSON(f.jsonBuf[:0], e)
	if err != nil {
		return err
	}
	if _, err := f.entriesW.Write(f.jsonBuf); err != nil {
		return f.writeFailed(err)
	}
	f.cur.entries++
	f.cur.entriesBytes += int64(len(f.jsonBuf))
	f.enforceCapLocked()
	return nil
}

func appendJSON(dst []byte, e *dissect.Entry) ([]byte, error) {
	n := len(dst)
	dst, err := appendEntryJSON(dst, e)
	if err != nil {
		return dst[:n], err
	}
	return append(dst, '\n'), nil
}

// writeFailed records a write error. A full disk drops the oldest segment so the next
// write has room; the error is reported in Stats either way.
func (f *FIFO) writeFailed(err error) error {
	f.stats.WriteErrors++
	f.stats.LastError = err.Error()
	if errors.Is(err, syscall.ENOSPC) {
		err = fmt.Errorf("disk full (dropping the oldest segment; lower --buffer-size or give the data directory more room): %w", err)
		f.stats.LastError = err.Error()
		if len(f.segs) > 0 && !f.segs[0].open {
			f.dropOldestLocked(true)
		}
		// The open segment's writers are in an unknown state: start a new one.
		f.abandonLocked()
	}
	return err
}

func (f *FIFO) openSegmentLocked(t time.Time) error {
	num := f.nextNum
	f.nextNum++
	pf, err := os.OpenFile(f.path(num, "pcapng"), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("creating segment %d: %w", num, err)
	}
	sf, err := os.OpenFile(f.path(num, "streams"), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		pf.Close()
		return fmt.Errorf("creating segment %d: %w", num, err)
	}
	ef, err := os.OpenFile(f.path(num, "entries"), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		pf.Close()
		sf.Close()
		return fmt.Errorf("creating segment %d: %w", num, err)
	}
	f.cw = countingWriter{w: pf}
	w, err := export.NewPcapNGWriter(&f.cw, export.PcapNGOptions{Application: f.cfg.Application, BufferSize: pcapBuffer})
	if err == nil {
		for _, ifc := range f.ifaces {
			if _, err = w.AddInterface(ifc); err != nil {
				break
			}
		}
	}
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		pf.Close()
		sf.Close()
		ef.Close()
		f.removeSegmentFiles(num)
		return fmt.Errorf("starting segment %d: %w", num, err)
	}
	f.pcapF, f.pcapW = pf, w
	f.streamsF, f.streamsW = sf, bufio.NewWriterSize(sf, 16<<10)
	f.entriesF, f.entriesW = ef, bufio.NewWriterSize(ef, 64<<10)
	f.cur = &segment{num: num, open: true, rotateAt: t.Add(f.cfg.SegmentAge), pcapBytes: f.cw.n}
	f.segs = append(f.segs, f.cur)
	f.closedStale = true
	return nil
}

// flushLocked pushes the open segment's buffers to disk (not fsync: the page cache
// survives a killed process, which is what restarts need).
func (f *FIFO) flushLocked() error {
	if f.cur == nil {
		return nil
	}
	var errs []error
	errs = append(errs, f.pcapW.Flush(), f.streamsW.Flush(), f.entriesW.Flush())
	f.cur.pcapBytes = f.cw.n
	f.flushAt = f.cur.last.Add(flushEvery)
	return errors.Join(errs...)
}

// Flush pushes buffered data of the open segment to the files.
func (f *FIFO) Flush() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.flushLocked()
}

func (f *FIFO) rotateLocked() error {
	err := f.flushLocked()
	f.closeFilesLocked()
	return err
}

func (f *FIFO) closeFilesLocked() {
	if f.cur == nil {
		return
	}
	f.pcapF.Close()
	f.streamsF.Close()
	f.entriesF.Close()
	f.cur.open = false
	f.cur = nil
	f.pcapW, f.streamsW, f.entriesW = nil, nil, nil
	f.closedStale = true
}

// abandonLocked closes the open segment without flushing (after a write error).
// The files may end in a torn block (a flush cut short by ENOSPC): they are cut back
// to their last complete packet, as after a crash, so the segment stays readable.
func (f *FIFO) abandonLocked() {
	if f.cur == nil {
		return
	}
	cur := f.cur
	f.closeFilesLocked()
	var res Resume
	fixed, err := f.recoverSegment(cur.num, &res)
	for i, s := range f.segs {
		if s != cur {
			continue
		}
		f.closedStale = true
		if err != nil || (fixed.packets == 0 && fixed.entries == 0) {
			f.segs = append(f.segs[:i], f.segs[i+1:]...)
			f.removeSegmentFiles(cur.num)
			f.stats.DroppedPackets += cur.packets
		} else {
			f.stats.DroppedPackets += cur.packets - fixed.packets
			*cur = *fixed
		}
		break
	}
}

func (f *FIFO) enforceCap() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.enforceCapLocked()
}

// enforceCapLocked drops the oldest closed segments while the total exceeds the cap.
func (f *FIFO) enforceCapLocked() {
	for f.heldLocked() > f.cfg.BufferSize && len(f.segs) > 0 && !f.segs[0].open {
		f.dropOldestLocked(false)
	}
}

// heldLocked is totalLocked without walking the segments on every write.
func (f *FIFO) heldLocked() int64 {
	if f.closedStale {
		f.closedBytes = 0
		for _, s := range f.segs {
			if !s.open {
				f.closedBytes += s.size()
			}
		}
		f.closedStale = false
	}
	if f.cur != nil {
		return f.closedBytes + f.cur.size()
	}
	return f.closedBytes
}

// dropOldestLocked drops the oldest segment. Its files are deleted in the
// background unless now is set (the disk is full) or a deletion is under way.
func (f *FIFO) dropOldestLocked(now bool) {
	s := f.segs[0]
	f.segs = f.segs[1:]
	f.closedStale = true
	f.stats.DroppedSegments++
	f.stats.DroppedPackets += s.packets
	if now || f.deleting {
		f.removeSegmentFiles(s.num)
		return
	}
	f.deleting, f.deletingBytes = true, s.size()
	f.del <- s.num // never blocks: one at a time
}

func (f *FIFO) totalLocked() int64 {
	var n int64
	for _, s := range f.segs {
		n += s.size()
	}
	return n
}

// Stats returns the current statistics.
func (f *FIFO) Stats() Stats {
	f.mu.RLock()
	defer f.mu.RUnlock()
	st := f.stats
	st.Segments = len(f.segs)
	st.Bytes = f.totalLocked() + f.deletingBytes // a dropped segment is on disk until deleted
	for _, s := range f.segs {
		st.Packets += s.packets
		st.Entries += s.entries
		if !s.first.IsZero() && (st.Oldest.IsZero() || s.first.Before(st.Oldest)) {
			st.Oldest = s.first
		}
		if s.last.After(st.Newest) {
			st.Newest = s.last
		}
	}
	return st
}

// Close flushes and closes the open segment.
func (f *FIFO) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	f.closed = true
	err := f.flushLocked()
	f.closeFilesLocked()
	// Let the deleter finish (it takes the lock when done).
	close(f.del)
	f.mu.Unlock()
	<-f.delDone
	f.mu.Lock()
	return err
}

// snapshot flushes the open segment and returns the segments with their sizes now,
// so a scan reads a consistent prefix of each file.
func (f *FIFO) snapshot() ([]segment, []export.Interface) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.flushLocked()
	out := make([]segment, len(f.segs))
	for i, s := range f.segs {
		out[i] = *s
	}
	return out, append([]export.Interface(nil), f.ifaces...)
}

// ScanEntries calls fn for every stored entry, oldest segment first. A segment deleted
// while the scan runs is skipped.
func (f *FIFO) ScanEntries(fn func(*dissect.Entry) error) error {
	segs, _ := f.snapshot()
	for _, s := range segs {
		ef, err := os.Open(f.path(s.num, "entries"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		sc := bufio.NewScanner(io.LimitReader(ef, s.entriesBytes))
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			e := new(dissect.Entry)
			if err := json.Unmarshal(sc.Bytes(), e); err != nil {
				ef.Close()
				return fmt.Errorf("reading entries of segment %d: %w", s.num, err)
			}
			if err := fn(e); err != nil {
				ef.Close()
				return err
			}
		}
		ef.Close()
	}
	return nil
}

// PacketFunc receives one stored packet, the interfaces of its segment and its stream.
type PacketFunc func(p export.Packet, ifaces []export.Interface, stream dissect.StreamID) error

// ScanPackets calls fn for every stored packet in capture order.
func (f *FIFO) ScanPackets(fn PacketFunc) error {
	segs, _ := f.snapshot()
	for _, s := range segs {
		err := f.scanSegment(s, fn)
		var fe *export.FormatError
		if errors.As(err, &fe) {
			// A damaged segment ends early; the others are still served.
			f.mu.Lock()
			f.stats.DamagedReads++
			f.mu.Unlock()
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (f *FIFO) scanSegment(s segment, fn PacketFunc) error {
	pf, err := os.Open(f.path(s.num, "pcapng"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer pf.Close()
	sf, err := os.Open(f.path(s.num, "streams"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer sf.Close()
	r, err := export.Open(io.LimitReader(pf, s.pcapBytes))
	if err != nil {
		return fmt.Errorf("reading segment %d: %w", s.num, err)
	}
	sr := bufio.NewReader(io.LimitReader(sf, s.streamsBytes))
	var b [4]byte
	for i := uint64(0); i < s.packets; i++ {
		p, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading segment %d: %w", s.num, err)
		}
		if _, err := io.ReadFull(sr, b[:]); err != nil {
			return nil
		}
		if err := fn(p, r.Interfaces(), dissect.StreamID(binary.LittleEndian.Uint32(b[:]))); err != nil {
			return err
		}
	}
	return nil
}

// countingWriter counts bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}
