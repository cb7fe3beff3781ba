package dissecttest

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// CheckGolden compares got with the golden file at path, or, with -update, writes
// got there.
func CheckGolden(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (go test -update writes it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it after you checked the diff):\n%s", path, lineDiff(string(want), string(got)))
	}
}

// lineDiff shows the first differing lines of two texts.
func lineDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(wl), len(gl)) && shown < 20; i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			fmt.Fprintf(&b, "line %d:\n- %s\n+ %s\n", i+1, w, g)
			shown++
		}
	}
	return b.String()
}

// goldenEntry is the JSON form of an entry in the testdata/*.golden.json of the DNS,
// Redis and TLS dissectors: what the pipeline fills, in a stable form, and the
// dissector's payload.
type goldenEntry struct {
	ID            uint64
	Index         int
	Stream        uint64
	Protocol      string
	Transport     string `json:",omitempty"`
	Src, Dst      string
	Timestamp     string
	ElapsedMicros int64
	DNS           *dissect.DNS   `json:",omitempty"`
	Redis         *dissect.Redis `json:",omitempty"`
	TLS           *dissect.TLS   `json:",omitempty"`
	ErrorType     string         `json:",omitempty"`
	ErrorMessage  string         `json:",omitempty"`
}

// GoldenJSON renders entries as golden JSON, with each entry's transport if
// transport is set.
func GoldenJSON(t testing.TB, entries []*dissect.Entry, transport bool) []byte {
	t.Helper()
	var out []goldenEntry
	for _, e := range entries {
		g := goldenEntry{
			ID: e.ID, Index: e.Index, Stream: uint64(e.Stream), Protocol: e.Protocol,
			Src: e.Src.String(), Dst: e.Dst.String(),
			Timestamp:     e.Timestamp.UTC().Format(time.RFC3339Nano),
			ElapsedMicros: e.Elapsed.Microseconds(), DNS: e.DNS, Redis: e.Redis, TLS: e.TLS,
			ErrorType: e.ErrorType, ErrorMessage: e.ErrorMessage,
		}
		if transport {
			g.Transport = e.Transport.String()
		}
		out = append(out, g)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}
