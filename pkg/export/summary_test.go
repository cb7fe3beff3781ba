package export

import (
	"testing"
	"time"
)

func TestSummaryString(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	var s Summary
	if got, want := s.String(), "wrote 0 packets"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	s.Add(Packet{Timestamp: t0, Data: make([]byte, 60)})
	s.Dest = "-"
	if got, want := s.String(), "wrote 1 packet (60 B) at 2026-11-23T10:00:00Z to standard output"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	for i := range 1233 {
		s.Add(Packet{Timestamp: t0.Add(time.Duration(i) * 2500 * time.Microsecond), Data: make([]byte, 1000)})
	}
	s.Add(Packet{Timestamp: t0.Add(3200*time.Millisecond + 123456), Data: make([]byte, 1000)})
	s.Streams, s.Dest = 5, "out.pcapng"
	if got, want := s.String(), "wrote 1235 packets (5 streams, 1.2 MB) spanning 3.2s (2026-11-23T10:00:00Z – 2026-11-23T10:00:03.2Z) to out.pcapng"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if s.Span() != 3200*time.Millisecond+123456 || s.Packets != 1235 || s.Bytes != 60+1234*1000 {
		t.Errorf("summary %+v", s)
	}
	for n, want := range map[int64]string{999: "999 B", 1000: "1.0 kB", 999_949: "999.9 kB", 999_950: "1.0 MB", 1_500_000_000: "1.5 GB", 7e15: "7000.0 TB"} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
