package http

import (
	"net/url"
	"strings"
	"testing"
)

// queryCases are targets' query strings with the shapes url.ParseQuery cares about.
var queryCases = []string{
	"", "a=1", "a=1&b=2", "a=1&a=2", "a", "a=", "=1", "&&a=1&&", "a=1;b=2", "a=1&b=2;c=3&d=4",
	"q=hello+world", "q=%41%42", "q=%zz&r=1", "%zz=1&s=2", "k=%", "k=%4", "a%20b=c%20d", "a=b=c",
	"a=%e2%82%ac", "x=1&X=2", strings.Repeat("p=1&", 50),
}

// parseQuery must keep what url.ParseQuery keeps, with the first value of each name.
func TestParseQueryMatchesNetURL(t *testing.T) {
	for _, raw := range queryCases {
		checkQuery(t, raw)
	}
}

func FuzzParseQuery(f *testing.F) {
	for _, raw := range queryCases {
		f.Add(raw)
	}
	f.Fuzz(checkQuery)
}

func checkQuery(t *testing.T, raw string) {
	got := parseQuery(raw)
	values, _ := url.ParseQuery(raw)
	want := map[string]string{}
	for k, vs := range values {
		want[k] = vs[0]
	}
	if len(got) != len(want) {
		t.Fatalf("parseQuery(%q) = %v, url.ParseQuery keeps %v", raw, got, want)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Fatalf("parseQuery(%q)[%q] = %q, %v; want %q", raw, k, g, ok, v)
		}
	}
	if len(values) == 0 && got != nil {
		t.Fatalf("parseQuery(%q) = %v, want nil", raw, got)
	}
}

func TestLowerName(t *testing.T) {
	for _, n := range commonNames {
		upper := strings.ToUpper(n[:1]) + n[1:]
		if got := lowerName(upper); got != n {
			t.Errorf("lowerName(%q) = %q", upper, got)
		}
		if got := lowerName(strings.ToUpper(n)); got != n {
			t.Errorf("lowerName(%q) = %q", strings.ToUpper(n), got)
		}
	}
	for _, n := range []string{"X-Custom-Header", "X", "ETAG2", strings.Repeat("A", 60), "already-lower"} {
		if got := lowerName(n); got != strings.ToLower(n) {
			t.Errorf("lowerName(%q) = %q", n, got)
		}
	}
	if n := testing.AllocsPerRun(100, func() { lowerName("Content-Type") }); n != 0 {
		t.Errorf("lowerName of a common name allocates %v times", n)
	}
}

var fieldCases = []string{
	"Host: a\r\nAccept: */*\r\n\r\n",
	"Host: a\r\nhost: b\r\nX: 1\r\nHOST:c\r\n\r\n",
	"A: x\r\nA:\r\nB: y\r\n",
	"Cookie: a=1; b=2\r\nCookie: a=3; c=4\r\nSet-Cookie: s=1; Path=/\r\n",
	"NoColon\r\n: empty name\r\n  : spaces\r\nK: v\r\n",
	"A: 1\r\n folded\r\nB: 2\r\n",
	" leading fold\r\nA: 1\r\n",
	"A: 1\r\n\r\nB: after the blank line\r\n",
	"X-Long: " + strings.Repeat("v", 300) + "\r\n",
	strings.Repeat("H: v\r\n", 100),
	"A:\tx \t\r\nb :y\n",
}

// parseFields' fast path must build what the field-by-field one builds.
func TestParseFieldsPaths(t *testing.T) {
	for _, b := range fieldCases {
		checkFields(t, b)
	}
}

func FuzzParseFields(f *testing.F) {
	for _, b := range fieldCases {
		f.Add(b)
	}
	f.Fuzz(checkFields)
}

func checkFields(t *testing.T, block string) {
	m1, c1, ok := parseNewFields(block)
	if !ok {
		return
	}
	m2, c2 := addFields(block, nil, nil)
	if !sameMap(m1, m2) || !sameMap(c1, c2) {
		t.Fatalf("block %q:\nlisted %v %v\nadded  %v %v", block, m1, c1, m2, c2)
	}
}

func sameMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
