package dissect

import "testing"

// Two pipelines sharing IDs never hand out the same stream or entry ID.
func TestSharedIDs(t *testing.T) {
	ids := NewIDs(10, 100)
	a := New(Config{IDs: ids}, func(*Entry) {})
	b := New(Config{IDs: ids}, func(*Entry) {})
	if got := a.ids.nextStream(); got != 10 {
		t.Fatalf("first stream = %d, want 10", got)
	}
	if got := b.ids.nextStream(); got != 11 {
		t.Fatalf("second pipeline's stream = %d, want 11", got)
	}
	if got := b.ids.nextEntry(); got != 100 {
		t.Fatalf("first entry = %d, want 100", got)
	}
	if got := a.ids.nextEntry(); got != 101 {
		t.Fatalf("second entry = %d, want 101", got)
	}
}
