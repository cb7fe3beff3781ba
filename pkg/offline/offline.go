// Package offline runs kubectl-shark's dissect → KFL → export pipeline over capture
// files: the `-r FILE` mode of `entries` and `export`. It is the same code path the
// sniffer runs live, fed from a file instead of a socket.
//
// Export with a KFL filter is two passes over the file: the first dissects every
// packet, remembers the stream of each packet (4 bytes per packet) and which streams
// hold a matching entry; the second writes the packets of those streams. Non-seekable
// input (a pipe) is spooled to a temporary file first. Without a filter every packet
// is written, so Export makes one pass and dissects nothing: streams are only numbered
// (dissect.StreamCounter) for the summary's count.
package offline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
	"github.com/kubectl-shark/kubectl-shark/pkg/export"
	"github.com/kubectl-shark/kubectl-shark/pkg/kfl"
	"github.com/kubectl-shark/kubectl-shark/pkg/streamsel"
)

// Input is a capture file to analyse.
type Input struct {
	Path string // "-" reads standard input
	// Stdin is read when Path is "-" (defaults to os.Stdin).
	Stdin io.Reader
}

// Result describes a pass over a file.
type Result struct {
	Packets     uint64
	Streams     int // streams holding at least one matching entry (export) or seen (entries)
	Entries     uint64
	Matched     uint64
	EvalErrors  uint64 // KFL runtime errors (evaluated as no match)
	Pipeline    dissect.Stats
	First, Last time.Time
}

// Entries dissects the file and returns the entries that match filter (nil: all),
// sorted by timestamp. A corrupt file returns the entries decoded before the damage
// together with the error (an *export.FormatError naming the offset).
func Entries(ctx context.Context, in Input, cfg dissect.Config, filter *kfl.Filter) (_ []*dissect.Entry, _ Result, err error) {
	defer catchFault(in, &err, debug.SetPanicOnFault(true))
	var res Result
	var out []*dissect.Entry
	rec := &kfl.Record{}
	p := dissect.New(cfg, func(e *dissect.Entry) {
		res.Entries++
		rec.Entry = e
		ok, err := filter.Match(rec)
		if err != nil {
			res.EvalErrors++
		}
		if ok {
			res.Matched++
			out = append(out, e)
		}
	})
	f, cleanup, err := open(in)
	if err != nil {
		return nil, res, err
	}
	defer cleanup()
	readErr := feed(ctx, f, p, &res, nil)
	p.Flush()
	res.Pipeline = p.Stats()
	res.Streams = int(res.Pipeline.TCPStreams + res.Pipeline.UDPStreams)
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Timestamp.Equal(out[j].Timestamp) {
			return out[i].Timestamp.Before(out[j].Timestamp)
		}
		return out[i].ID < out[j].ID
	})
	return out, res, readErr
}

// Format is an output file format.
type Format string

const (
	PCAPNG Format = "pcapng"
	PCAP   Format = "pcap"
)

// ExportOptions select what Export writes.
type ExportOptions struct {
	Filter *kfl.Filter // nil: every packet
	BPF    string      // tcpdump filter applied to the packets written ("" none)
	Format Format
	// Version is written into the pcapng section header (shb_userappl).
	Version string
}

// Export writes to w every packet of each TCP/UDP stream that holds at least one entry
// matching opts.Filter (every packet of the file when Filter is nil), in file order,
// restricted by opts.BPF. The input's interfaces are preserved in pcapng output.
//
// When Filter is nil nothing is dissected: Result.Entries and Result.Pipeline stay
// zero, and Result.Streams (the summary's stream count) comes from a
// dissect.StreamCounter, which numbers streams as the pipeline does save in unusual
// cases (see its documentation).
func Export(ctx context.Context, in Input, cfg dissect.Config, opts ExportOptions, w io.Writer) (_ export.Summary, _ Result, err error) {
	defer catchFault(in, &err, debug.SetPanicOnFault(true))
	var res Result
	var sum export.Summary
	f, cleanup, err := open(in)
	if err != nil {
		return sum, res, err
	}
	defer cleanup()

	// Compile the BPF filter early so a bad expression fails before any work. It is
	// compiled again per link type once the interfaces are known.
	if err := streamsel.CheckBPF(opts.BPF); err != nil {
		return sum, res, err
	}

	if opts.Filter == nil {
		// Every packet: one pass, no dissection.
		sc := dissect.NewStreamCounter()
		sum, err = write(ctx, f, func(_ int, pkt export.Packet, lt layers.LinkType) uint32 {
			res.Packets++
			if res.First.IsZero() || pkt.Timestamp.Before(res.First) {
				res.First = pkt.Timestamp
			}
			if pkt.Timestamp.After(res.Last) {
				res.Last = pkt.Timestamp
			}
			return uint32(sc.Packet(lt, pkt.Timestamp, pkt.Data))
		}, nil, opts, w)
		res.Streams = sum.Streams
		return sum, res, err
	}

	// Pass 1: dissect, record each packet's stream, collect matching streams.
	matched := streamsel.NewSet()
	var streamOf []uint32
	rec := &kfl.Record{}
	p := dissect.New(cfg, func(e *dissect.Entry) {
		res.Entries++
		rec.Entry = e
		ok, err := opts.Filter.Match(rec)
		if err != nil {
			res.EvalErrors++
		}
		if ok {
			res.Matched++
			matched.Add(e.Stream)
		}
	})
	readErr := feed(ctx, f, p, &res, func(id dissect.StreamID) { streamOf = append(streamOf, uint32(id)) })
	p.Flush()
	res.Pipeline = p.Stats()
	if readErr != nil && !isFormatError(readErr) {
		return sum, res, readErr
	}
	// A corrupt tail: export what was decoded before it, then report it.
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return sum, res, fmt.Errorf("rewinding %s: %w", in.Path, err)
	}
	sum, err = write(ctx, f, func(i int, _ export.Packet, _ layers.LinkType) uint32 {
		if i < len(streamOf) {
			return streamOf[i]
		}
		return 0
	}, matched, opts, w)
	res.Streams = sum.Streams
	if err != nil {
		return sum, res, err
	}
	return sum, res, readErr
}

// write copies to w the packets whose stream is in matched (every stream when matched
// is nil) and that pass opts.BPF. streamOf is called with every packet read, in file
// order (i counts from 0; lt is the packet's link type, LinkTypeNull when its interface
// is unknown), and returns its stream (0: none); the summary counts the streams of the
// packets written.
func write(ctx context.Context, f io.Reader, streamOf func(i int, pkt export.Packet, lt layers.LinkType) uint32, matched *streamsel.Set, opts ExportOptions, w io.Writer) (export.Summary, error) {
	var sum export.Summary
	r, err := openReader(f)
	if err != nil {
		return sum, err
	}
	defer r.Close()
	var out *packetWriter
	bpf := streamsel.NewBPF(opts.BPF)
	streams := map[uint32]bool{}
	var idx int
	var readErr error
	for {
		if idx%4096 == 0 && ctx.Err() != nil {
			return sum, ctx.Err()
		}
		pkt, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			readErr = err
			break
		}
		i := idx
		idx++
		ifaces := r.Interfaces()
		lt := layers.LinkTypeNull
		if pkt.Interface >= 0 && pkt.Interface < len(ifaces) {
			lt = ifaces[pkt.Interface].LinkType
		}
		sid := streamOf(i, pkt, lt)
		if !matched.Has(dissect.StreamID(sid)) {
			continue
		}
		if pkt.Interface < 0 || pkt.Interface >= len(ifaces) {
			return sum, fmt.Errorf("packet %d refers to interface %d, but the file declares %d", i+1, pkt.Interface, len(ifaces))
		}
		ok, err := bpf.Match(lt, pkt.Data, pkt.Length)
		if err != nil {
			return sum, fmt.Errorf("compiling the BPF filter for interface %d (%s): %w", pkt.Interface, lt, err)
		}
		if !ok {
			continue
		}
		if out == nil {
			out, err = newPacketWriter(opts, w, ifaces)
			if err != nil {
				return sum, err
			}
		}
		if err := out.write(pkt, ifaces); err != nil {
			return sum, err
		}
		if sid != 0 {
			streams[sid] = true
		}
		sum.Add(pkt)
	}
	if out == nil {
		// No packet selected: still write a valid, empty file.
		var err error
		out, err = newPacketWriter(opts, w, r.Interfaces())
		if err != nil {
			return sum, err
		}
	}
	if err := out.flush(); err != nil {
		return sum, err
	}
	sum.Streams = len(streams)
	return sum, readErr
}

// feed reads every packet of r into p, calling onStream with each packet's stream.
func feed(ctx context.Context, f io.Reader, p *dissect.Pipeline, res *Result, onStream func(dissect.StreamID)) error {
	r, err := openReader(f)
	if err != nil {
		return err
	}
	defer r.Close()
	var pkt dissect.Packet
	for n := 0; ; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		rp, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		ifaces := r.Interfaces()
		pkt.LinkType = layers.LinkTypeNull
		if rp.Interface >= 0 && rp.Interface < len(ifaces) {
			pkt.LinkType = ifaces[rp.Interface].LinkType
		}
		pkt.Timestamp, pkt.Interface, pkt.Data, pkt.Length = rp.Timestamp, rp.Interface, rp.Data, rp.Length
		res.Packets++
		if res.First.IsZero() || rp.Timestamp.Before(res.First) {
			res.First = rp.Timestamp
		}
		if rp.Timestamp.After(res.Last) {
			res.Last = rp.Timestamp
		}
		id := p.Packet(&pkt)
		if onStream != nil {
			onStream(id)
		}
	}
}

// openReader opens a capture: a file is mapped into memory (packets are not copied
// out of the page cache), anything else streamed.
func openReader(f io.Reader) (*export.Reader, error) {
	if file, ok := f.(*os.File); ok {
		return export.OpenMapped(file)
	}
	return export.Open(f)
}

// catchFault turns the fault of reading a mapped file that shrank under the reader
// (SIGBUS on the lost pages) into an error. Entries and Export defer it with the
// setting debug.SetPanicOnFault(true) replaced, which it restores. Other panics go on.
func catchFault(in Input, err *error, panicOnFault bool) {
	debug.SetPanicOnFault(panicOnFault)
	if r := recover(); r != nil {
		if fe, ok := r.(interface{ Addr() uintptr }); ok {
			*err = fmt.Errorf("reading %s: the file changed while it was read (was it truncated?): %v", in.Path, fe)
			return
		}
		panic(r)
	}
}

func isFormatError(err error) bool {
	var fe *export.FormatError
	return errors.As(err, &fe)
}

// open returns a seekable reader for the input, spooling standard input to a
// temporary file.
func open(in Input) (io.ReadSeeker, func(), error) {
	if in.Path != "-" {
		f, err := os.Open(in.Path)
		if err != nil {
			return nil, nil, err
		}
		return f, func() { f.Close() }, nil
	}
	src := in.Stdin
	if src == nil {
		src = os.Stdin
	}
	if s, ok := src.(*os.File); ok {
		if _, err := s.Seek(0, io.SeekCurrent); err == nil {
			return s, func() {}, nil
		}
	}
	tmp, err := os.CreateTemp("", "kubectl-shark-stdin-*.pcap")
	if err != nil {
		return nil, nil, fmt.Errorf("spooling standard input: %w", err)
	}
	cleanup := func() { tmp.Close(); os.Remove(tmp.Name()) }
	if _, err := io.Copy(tmp, src); err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("spooling standard input: %w", err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		cleanup()
		return nil, nil, err
	}
	return tmp, cleanup, nil
}
