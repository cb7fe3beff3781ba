package monoclock

import (
	"testing"
	"time"
)

// Now plus Offset is the wall clock: it lies between two time.Now readings taken
// around it.
func TestOffset(t *testing.T) {
	before := time.Now()
	off, at := Offset()
	after := time.Now()
	wall := time.Unix(0, at+off)
	if wall.Before(before.Add(-time.Millisecond)) || wall.After(after.Add(time.Millisecond)) {
		t.Fatalf("monotonic %d + offset %d = %v, outside [%v, %v]", at, off, wall, before, after)
	}
	if n := Now(); n < at {
		t.Fatalf("Now() = %d went back before %d", n, at)
	}
}
