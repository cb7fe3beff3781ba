package jsonstr

import (
	"encoding/json"
	"testing"
)

// FuzzAppend: with html, the output is exactly json.Marshal's; without, it decodes
// to the same string.
func FuzzAppend(f *testing.F) {
	for _, s := range []string{"", "plain", "a\"b\\c", "\x00\x1f\n\r\t\b\f", "<a href='x'>&amp;</a>", "\u2028\u2029", "bad \xff utf8 \xc3", "héllo 世界"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := Append(nil, s, true); string(got) != string(want) {
			t.Fatalf("Append(%q, html) = %s, json.Marshal = %s", s, got, want)
		}
		var back string
		if err := json.Unmarshal(Append(nil, s, false), &back); err != nil {
			t.Fatalf("Append(%q) is not JSON: %v", s, err)
		}
		var ref string
		if err := json.Unmarshal(want, &ref); err != nil {
			t.Fatal(err)
		}
		if back != ref {
			t.Fatalf("Append(%q) decodes to %q, json.Marshal's to %q", s, back, ref)
		}
	})
}
