// Package monoclock converts the CLOCK_MONOTONIC timestamps BPF programs take
// (bpf_ktime_get_ns) to wall-clock time, for the eBPF capture backend and the TLS
// probes.
package monoclock

import "golang.org/x/sys/unix"

// Now returns CLOCK_MONOTONIC in nanoseconds.
func Now() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// Offset measures the Unix time of CLOCK_MONOTONIC's zero: wall = mono + offset.
// The wall clock is read between two monotonic reads, and mono is taken as their
// midpoint. It also returns that midpoint (when the offset was measured). Measure
// again from time to time: NTP slews the wall clock.
func Offset() (offset, at int64) {
	var m1, r, m2 unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &m1)
	unix.ClockGettime(unix.CLOCK_REALTIME, &r)
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &m2)
	mono := (m1.Nano() + m2.Nano()) / 2
	return r.Nano() - mono, mono
}
