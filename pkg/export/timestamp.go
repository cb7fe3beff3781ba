package export

import (
	"math/bits"
	"time"
)

// tsConv turns pcapng timestamp ticks of one interface into a time.Time.
type tsConv struct {
	binary bool
	exp    uint8  // n in 10^-n or 2^-n
	div    uint64 // 10^n for decimal resolutions
	scale  uint64 // 10^|9-n| for decimal resolutions
	offset int64  // if_tsoffset, seconds
}

func validTsResolution(r TsResolution) bool {
	if r&0x80 != 0 {
		return r&0x7f <= 63
	}
	return r <= 19 // 10^19 is the largest power of ten in a uint64
}

func newTsConv(r TsResolution, offset int64) tsConv {
	c := tsConv{binary: r&0x80 != 0, exp: uint8(r & 0x7f), offset: offset}
	if !c.binary {
		c.div = pow10(int(c.exp))
		if c.exp <= 9 {
			c.scale = pow10(9 - int(c.exp))
		} else {
			c.scale = pow10(int(c.exp) - 9)
		}
	}
	return c
}

func pow10(n int) uint64 {
	v := uint64(1)
	for range n {
		v *= 10
	}
	return v
}

func (c *tsConv) time(ticks uint64) time.Time {
	var sec, ns uint64
	switch {
	case c.binary:
		sec = ticks >> c.exp
		frac := ticks & (1<<c.exp - 1)
		hi, lo := bits.Mul64(frac, 1e9)
		if c.exp > 0 {
			ns = hi<<(64-c.exp) | lo>>c.exp
		}
	case c.exp <= 9:
		sec, ns = ticks/c.div, ticks%c.div*c.scale
	default:
		sec, ns = ticks/c.div, ticks%c.div/c.scale
	}
	return time.Unix(int64(sec)+c.offset, int64(ns))
}

// nsTicks returns t as nanoseconds since the Unix epoch, or false if t is before the
// epoch or too far in the future for a uint64 (year 2554).
func nsTicks(t time.Time) (uint64, bool) {
	sec := t.Unix()
	if sec < 0 || sec >= 18446744073 {
		return 0, false
	}
	return uint64(sec)*1e9 + uint64(t.Nanosecond()), true
}
