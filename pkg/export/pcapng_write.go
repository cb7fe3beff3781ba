package export

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"
)

// Writer is what PcapNGWriter and PcapWriter have in common; Copy writes to it.
type Writer interface {
	// AddInterface declares an interface and returns the index WritePacket expects in
	// Packet.Interface.
	AddInterface(Interface) (int, error)
	WritePacket(Packet) error
	Flush() error
	// Summary describes what was written so far.
	Summary() Summary
}

// PcapNGOptions configures the section header of a PcapNGWriter.
type PcapNGOptions struct {
	// Application is shb_userappl, e.g. "kubectl-shark v0.3.0"; empty means "kubectl-shark".
	Application string
	// OS and Hardware are shb_os and shb_hardware; optional.
	OS, Hardware string
	// Comment is the section's opt_comment; optional.
	Comment string
	// BufferSize is the size of the output buffer; 0 means 64 KiB. A larger buffer
	// means fewer, larger writes (a capture store writing a file at line rate).
	BufferSize int
}

// PcapNGWriter writes a single-section, little-endian pcapng stream with nanosecond
// timestamps. Output is buffered: call Flush to push it to the underlying writer (after
// the last packet, and periodically when streaming). After a write error every method
// returns that error. A PcapNGWriter is not safe for concurrent use.
type PcapNGWriter struct {
	w       *bufio.Writer
	ifaces  []Interface
	pending []NameRecord
	known   map[netip.Addr][]string
	sum     Summary
	b       []byte
	err     error
}

var le = binary.LittleEndian

// NewPcapNGWriter writes a section header block to w (buffered) and returns the writer.
func NewPcapNGWriter(w io.Writer, opts PcapNGOptions) (*PcapNGWriter, error) {
	size := opts.BufferSize
	if size <= 0 {
		size = 64 << 10
	}
	pw := &PcapNGWriter{w: bufio.NewWriterSize(w, size), known: map[netip.Addr][]string{}}
	app := opts.Application
	if app == "" {
		app = "kubectl-shark"
	}
	b := pw.begin(blockSHB)
	b = le.AppendUint32(b, byteOrderMagic)
	b = le.AppendUint16(b, 1) // version 1.0
	b = le.AppendUint16(b, 0)
	b = le.AppendUint64(b, ^uint64(0)) // section length: unknown
	b = appendStringOpt(b, optComment, opts.Comment)
	b = appendStringOpt(b, shbHardware, opts.Hardware)
	b = appendStringOpt(b, shbOS, opts.OS)
	b = appendStringOpt(b, shbUserAppl, app)
	b = appendEndOpt(b)
	if err := pw.end(b); err != nil {
		return nil, err
	}
	return pw, nil
}

// begin starts a block in the scratch buffer; end fills in the lengths and writes it.
func (w *PcapNGWriter) begin(typ uint32) []byte {
	b := le.AppendUint32(w.b[:0], typ)
	return le.AppendUint32(b, 0)
}

func (w *PcapNGWriter) end(b []byte) error {
	n := uint32(len(b) + 4)
	le.PutUint32(b[4:], n)
	b = le.AppendUint32(b, n)
	w.b = b
	return w.write(b)
}

func (w *PcapNGWriter) write(b []byte) error {
	if w.err != nil {
		return w.err
	}
	if _, err := w.w.Write(b); err != nil {
		w.err = fmt.Errorf("writing pcapng: %w", err)
	}
	return w.err
}

const maxOptLen = 0xffff

func appendOpt(b []byte, code uint16, v []byte) []byte {
	if len(v) > maxOptLen {
		v = v[:maxOptLen]
	}
	b = le.AppendUint16(b, code)
	b = le.AppendUint16(b, uint16(len(v)))
	b = append(b, v...)
	return append(b, make([]byte, pad4(len(v))-len(v))...)
}

func appendStringOpt(b []byte, code uint16, s string) []byte {
	if s == "" {
		return b
	}
	if len(s) > maxOptLen {
		s = strings.ToValidUTF8(s[:maxOptLen], "")
	}
	b = le.AppendUint16(b, code)
	b = le.AppendUint16(b, uint16(len(s)))
	b = append(b, s...)
	return append(b, make([]byte, pad4(len(s))-len(s))...)
}

func appendUint64Opt(b []byte, code uint16, v uint64) []byte {
	b = le.AppendUint16(b, code)
	b = le.AppendUint16(b, 8)
	return le.AppendUint64(b, v)
}

func appendTimeOpt(b []byte, code uint16, ticks uint64) []byte {
	b = le.AppendUint16(b, code)
	b = le.AppendUint16(b, 8)
	b = le.AppendUint32(b, uint32(ticks>>32))
	return le.AppendUint32(b, uint32(ticks))
}

// appendEndOpt terminates an option list, unless it is empty (then it may be omitted).
func appendEndOpt(b []byte) []byte {
	return append(b, 0, 0, 0, 0)
}

// AddInterface writes an Interface Description Block and returns the interface's index.
// Interface.TsResolution is ignored: timestamps are written in nanoseconds.
func (w *PcapNGWriter) AddInterface(iface Interface) (int, error) {
	if iface.SnapLen < 0 || uint64(iface.SnapLen) > 0xffffffff {
		return 0, fmt.Errorf("adding interface %q: invalid snapshot length %d", iface.Name, iface.SnapLen)
	}
	b := w.begin(blockIDB)
	b = le.AppendUint16(b, uint16(iface.LinkType))
	b = le.AppendUint16(b, 0)
	b = le.AppendUint32(b, uint32(iface.SnapLen))
	b = appendStringOpt(b, ifName, iface.Name)
	b = appendStringOpt(b, ifDescription, iface.Description)
	b = appendOpt(b, ifTsResol, []byte{byte(TsNanoseconds)})
	if iface.Filter != "" {
		b = appendOpt(b, ifFilter, append([]byte{0}, iface.Filter...))
	}
	b = appendStringOpt(b, ifOS, iface.OS)
	b = appendStringOpt(b, ifHardware, iface.Hardware)
	b = appendEndOpt(b)
	if err := w.end(b); err != nil {
		return 0, err
	}
	iface.TsResolution = TsNanoseconds
	w.ifaces = append(w.ifaces, iface)
	return len(w.ifaces) - 1, nil
}

// Interfaces returns the interfaces added so far. Do not modify the slice.
func (w *PcapNGWriter) Interfaces() []Interface { return w.ifaces }

// AddNameResolution records names for an address (a pod or service IP), the preferred
// one first. Records are buffered, deduplicated and written as one Name Resolution Block
// before the next packet, statistics block or Flush, so they may be added at any time.
// Wireshark shows the last name a file gives for an address, so the names of a record
// are written in reverse order (the Reader reverses them back), and names added by a
// later call take precedence.
func (w *PcapNGWriter) AddNameResolution(ip netip.Addr, names ...string) error {
	if !ip.IsValid() {
		return errors.New("adding name resolution: invalid address")
	}
	ip = ip.Unmap().WithZone("")
	rec := NameRecord{Addr: ip}
	size := 16
	for _, n := range names {
		if n == "" || strings.IndexByte(n, 0) >= 0 {
			return fmt.Errorf("adding name resolution for %s: invalid name %q", ip, n)
		}
		if contains(w.known[ip], n) || contains(rec.Names, n) {
			continue
		}
		if size += len(n) + 1; size > maxOptLen {
			return fmt.Errorf("adding name resolution for %s: names longer than %d bytes", ip, maxOptLen)
		}
		rec.Names = append(rec.Names, n)
	}
	if len(rec.Names) == 0 {
		return nil
	}
	w.known[ip] = append(w.known[ip], rec.Names...)
	w.pending = append(w.pending, rec)
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// writeNames writes the pending name records, in blocks of at most about 1 MiB.
func (w *PcapNGWriter) writeNames() error {
	for len(w.pending) > 0 {
		b := w.begin(blockNRB)
		for len(w.pending) > 0 && len(b) < 1<<20 {
			rec := w.pending[0]
			w.pending = w.pending[1:]
			typ, addr := uint16(nrbIPv4), rec.Addr.AsSlice()
			if rec.Addr.Is6() {
				typ = nrbIPv6
			}
			n := len(addr)
			for _, name := range rec.Names {
				n += len(name) + 1
			}
			b = le.AppendUint16(b, typ)
			b = le.AppendUint16(b, uint16(n))
			b = append(b, addr...)
			for i := len(rec.Names) - 1; i >= 0; i-- {
				b = append(b, rec.Names[i]...)
				b = append(b, 0)
			}
			b = append(b, make([]byte, pad4(n)-n)...)
		}
		b = le.AppendUint32(b, nrbEnd) // type 0, length 0
		if err := w.end(b); err != nil {
			return err
		}
	}
	w.pending = nil
	return nil
}

func (w *PcapNGWriter) checkIface(i int, what string) error {
	if i < 0 || i >= len(w.ifaces) {
		return fmt.Errorf("writing %s: interface %d was not added (the writer has %d)", what, i, len(w.ifaces))
	}
	return nil
}

func timeErr(what string, t time.Time) error {
	return fmt.Errorf("writing %s: timestamp %s is outside 1970..2554", what, t.UTC().Format(time.RFC3339Nano))
}

// WritePacket writes an Enhanced Packet Block. Data longer than the interface's
// snapshot length is cut to it, as a capture would have; Length is raised to len(Data)
// if smaller. Flags and Comment are written when set. A zero Timestamp is written as the
// Unix epoch; others must lie between 1970 and 2554.
func (w *PcapNGWriter) WritePacket(p Packet) error {
	if err := w.checkIface(p.Interface, "packet"); err != nil {
		return err
	}
	var ticks uint64 // the zero Timestamp (simple packet blocks have none) is written as 0
	if !p.Timestamp.IsZero() {
		var ok bool
		if ticks, ok = nsTicks(p.Timestamp); !ok {
			return timeErr("packet", p.Timestamp)
		}
	}
	if len(w.pending) > 0 {
		if err := w.writeNames(); err != nil {
			return err
		}
	}
	data := p.Data
	if snap := w.ifaces[p.Interface].SnapLen; snap > 0 && len(data) > snap {
		data = data[:snap]
	}
	if len(data) > MaxBlockSize-1024 {
		return fmt.Errorf("writing packet: %d bytes is larger than the %d MiB block limit", len(data), MaxBlockSize>>20)
	}
	wirelen := max(p.Length, len(p.Data))
	if uint64(wirelen) > 0xffffffff {
		wirelen = 0xffffffff
	}
	// The header goes in the scratch buffer, then the padding, the options and the
	// trailing length after it; the data goes straight to the output between them.
	b := append(w.b[:0], make([]byte, 28)...)
	var z [3]byte
	b = append(b, z[:pad4(len(data))-len(data)]...)
	if p.Comment != "" || p.Flags != 0 {
		b = appendStringOpt(b, optComment, p.Comment)
		if p.Flags != 0 {
			var f [4]byte
			le.PutUint32(f[:], p.Flags)
			b = appendOpt(b, epbFlags, f[:])
		}
		b = appendEndOpt(b)
	}
	n := uint32(len(b) + len(data) + 4)
	b = le.AppendUint32(b, n)
	w.b = b
	le.PutUint32(b[0:], blockEPB)
	le.PutUint32(b[4:], n)
	le.PutUint32(b[8:], uint32(p.Interface))
	le.PutUint32(b[12:], uint32(ticks>>32))
	le.PutUint32(b[16:], uint32(ticks))
	le.PutUint32(b[20:], uint32(len(data)))
	le.PutUint32(b[24:], uint32(wirelen))
	if w.err == nil && w.w.Available() >= int(n) {
		// The whole block fits the buffer: one copy into it, no Write calls.
		out := w.w.AvailableBuffer()
		out = append(out, b[:28]...)
		out = append(out, data...)
		out = append(out, b[28:]...)
		w.write(out)
	} else {
		w.write(b[:28])
		w.write(data)
		w.write(b[28:])
	}
	if w.err != nil {
		return w.err
	}
	w.sum.add(p.Timestamp, len(data))
	return nil
}

// WriteInterfaceStats writes an Interface Statistics Block. Counters that are not Valid
// and zero Start/End times are left out.
func (w *PcapNGWriter) WriteInterfaceStats(s InterfaceStats) error {
	if err := w.checkIface(s.Interface, "interface statistics"); err != nil {
		return err
	}
	ticks, ok := nsTicks(s.Timestamp)
	if !ok {
		return timeErr("interface statistics", s.Timestamp)
	}
	if len(w.pending) > 0 {
		if err := w.writeNames(); err != nil {
			return err
		}
	}
	b := w.begin(blockISB)
	b = le.AppendUint32(b, uint32(s.Interface))
	b = le.AppendUint32(b, uint32(ticks>>32))
	b = le.AppendUint32(b, uint32(ticks))
	b = appendStringOpt(b, optComment, s.Comment)
	for _, t := range []struct {
		code uint16
		t    time.Time
	}{{isbStartTime, s.Start}, {isbEndTime, s.End}} {
		if t.t.IsZero() {
			continue
		}
		v, ok := nsTicks(t.t)
		if !ok {
			return timeErr("interface statistics", t.t)
		}
		b = appendTimeOpt(b, t.code, v)
	}
	for _, c := range []struct {
		code uint16
		c    Counter
	}{{isbIfRecv, s.Received}, {isbIfDrop, s.Dropped}, {isbFilterAccept, s.FilterAccepted}, {isbOSDrop, s.OSDropped}, {isbUsrDeliv, s.Delivered}} {
		if c.c.Valid {
			b = appendUint64Opt(b, c.code, c.c.Value)
		}
	}
	b = appendEndOpt(b)
	return w.end(b)
}

// Flush writes pending name records and everything buffered to the underlying writer.
func (w *PcapNGWriter) Flush() error {
	if err := w.writeNames(); err != nil {
		return err
	}
	if w.err != nil {
		return w.err
	}
	if err := w.w.Flush(); err != nil {
		w.err = fmt.Errorf("writing pcapng: %w", err)
	}
	return w.err
}

// Summary describes the packets written so far.
func (w *PcapNGWriter) Summary() Summary { return w.sum }
