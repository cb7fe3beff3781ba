package export

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Summary is a capinfos-style account of an export: writers keep one up to date, and
// the caller fills in Streams and Dest before printing it.
type Summary struct {
	Packets int64
	// Bytes counts captured bytes (the packet data written, not the file overhead).
	Bytes int64
	// Streams is the number of TCP/UDP streams exported, if the caller knows it (0 omits
	// it from String).
	Streams int
	// First and Last are the earliest and latest packet timestamps.
	First, Last time.Time
	// Dest names where the packets went: a file name, or "-" for standard output.
	Dest string
}

// Add accounts for one packet.
func (s *Summary) Add(p Packet) { s.add(p.Timestamp, len(p.Data)) }

func (s *Summary) add(t time.Time, n int) {
	if s.Packets == 0 || t.Before(s.First) {
		s.First = t
	}
	if s.Packets == 0 || t.After(s.Last) {
		s.Last = t
	}
	s.Packets++
	s.Bytes += int64(n)
}

// Span is the time between the first and the last packet.
func (s Summary) Span() time.Duration { return s.Last.Sub(s.First) }

// String renders the summary for a person, e.g.
//
//	wrote 1234 packets (5 streams, 1.2 MB) spanning 3.2s (2026-11-23T10:00:00Z – 2026-11-23T10:00:03.2Z) to out.pcapng
func (s Summary) String() string {
	var b strings.Builder
	b.WriteString("wrote ")
	b.WriteString(plural(s.Packets, "packet"))
	if s.Packets > 0 {
		b.WriteString(" (")
		if s.Streams > 0 {
			b.WriteString(plural(int64(s.Streams), "stream"))
			b.WriteString(", ")
		}
		b.WriteString(FormatBytes(s.Bytes))
		b.WriteString(")")
		if s.Packets == 1 || s.Span() == 0 {
			b.WriteString(" at ")
			b.WriteString(stamp(s.First))
		} else {
			fmt.Fprintf(&b, " spanning %s (%s – %s)", roundSpan(s.Span()), stamp(s.First), stamp(s.Last))
		}
	}
	switch s.Dest {
	case "":
	case "-":
		b.WriteString(" to standard output")
	default:
		b.WriteString(" to ")
		b.WriteString(s.Dest)
	}
	return b.String()
}

func plural(n int64, word string) string {
	s := strconv.FormatInt(n, 10) + " " + word
	if n != 1 {
		s += "s"
	}
	return s
}

func stamp(t time.Time) string {
	return t.UTC().Truncate(time.Millisecond).Format(time.RFC3339Nano)
}

func roundSpan(d time.Duration) time.Duration {
	switch {
	case d >= time.Minute:
		return d.Round(time.Second)
	case d >= time.Second:
		return d.Round(100 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(time.Millisecond / 10)
	}
	return d
}

// FormatBytes renders a byte count with SI units, as capinfos does: "512 B", "1.2 MB".
func FormatBytes(n int64) string {
	if n < 1000 {
		return strconv.FormatInt(n, 10) + " B"
	}
	f := float64(n)
	for _, unit := range []string{"kB", "MB", "GB", "TB"} {
		f /= 1000
		if f < 999.95 || unit == "TB" {
			return strconv.FormatFloat(f, 'f', 1, 64) + " " + unit
		}
	}
	panic("unreachable")
}
