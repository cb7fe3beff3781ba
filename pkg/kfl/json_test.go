package kfl

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAppendJSONGolden(t *testing.T) {
	recs := fixtures()
	names := make([]string, 0, len(recs))
	for n := range recs {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			rec := recs[name]
			out := AppendJSON([]byte("prefix"), rec)
			if !bytes.HasPrefix(out, []byte("prefix")) {
				t.Fatal("AppendJSON did not append")
			}
			out = out[len("prefix"):]
			if !json.Valid(out) {
				t.Fatalf("invalid JSON: %s", out)
			}
			checkJSONAgainstRegistry(t, rec, out)
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, out, "", "  "); err != nil {
				t.Fatal(err)
			}
			pretty.WriteByte('\n')
			golden(t, "json/"+name+".json", pretty.String())
		})
	}
}

// checkJSONAgainstRegistry checks that every key of out is a variable, in the
// documented order, whose JSON value is encoding/json's encoding of Field.Value, and
// that the keys the layout promises are there.
func checkJSONAgainstRegistry(t *testing.T, rec *Record, out []byte) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(out))
	if _, err := dec.Token(); err != nil { // {
		t.Fatal(err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		key := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, key)
		f, ok := Lookup(key)
		if !ok {
			t.Errorf("key %q is not a KFL variable", key)
			continue
		}
		if !f.Filled {
			t.Errorf("key %q is not filled by this build", key)
		}
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(f.Value(rec)); err != nil {
			t.Fatal(err)
		}
		if got := string(raw); got != strings.TrimSuffix(want.String(), "\n") {
			t.Errorf("%s = %s, want %s", key, got, want.String())
		}
	}
	common := []string{"id", "index", "stream", "timestamp", "elapsed_time", "protocol",
		"src.ip", "src.port", "dst.ip", "dst.port", "capture_source"}
	if len(keys) < len(common) || !slices.Equal(keys[:len(common)], common) {
		t.Errorf("keys start with %v, want %v", keys, common)
	}
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[k] {
			t.Errorf("duplicate key %q", k)
		}
		seen[k] = true
	}
	for _, f := range Fields() {
		if f.Group == "flags" {
			if v := f.Value(rec).(bool); v != seen[f.Name] {
				t.Errorf("flag %s = %v but present in JSON = %v", f.Name, v, seen[f.Name])
			}
		}
	}
}

// TestAppendJSONLayout pins which groups appear for which entries.
func TestAppendJSONLayout(t *testing.T) {
	recs := fixtures()
	tests := []struct {
		rec        string
		has, hasnt []string
	}{
		{"http", []string{"http", "tcp", "method", "request.headers", "status_code", "tcp_error_type", "src.pod.name", "local_resolution_status"},
			[]string{"dns", "dns_questions", "conn_state", "redis_key", "node", "capture", "tls_info", "node_id"}},
		{"offline", []string{"http", "method"}, []string{"src.pod.name", "namespaces", "node_name"}},
		{"dns", []string{"dns", "udp", "dns_questions", "status_code"}, []string{"method", "tcp", "tcp_error_type"}},
		{"tcp_conn", []string{"conn", "flow", "tcp_conn", "tcp_flow", "tcp", "conn_state", "flow_local_pps", "conn_l7_detected"}, []string{"http", "method", "udp_conn"}},
		{"empty", nil, []string{"http", "tcp", "src.pod.name", "conn_group_id"}},
		{"tls", []string{"tls", "tcp", "tls_summary", "tls_info", "tls_request_size", "tls_response_size", "tls_total_size", "tcp_error_type"},
			[]string{"http", "method", "status_code", "conn_state"}},
		{"udp_flow", []string{"tls", "tls_summary", "tls_info", "conn_state"}, []string{"tcp"}},
	}
	for _, tt := range tests {
		var m map[string]any
		if err := json.Unmarshal(AppendJSON(nil, recs[tt.rec]), &m); err != nil {
			t.Fatal(err)
		}
		for _, k := range tt.has {
			if _, ok := m[k]; !ok {
				t.Errorf("%s: missing %q", tt.rec, k)
			}
		}
		for _, k := range tt.hasnt {
			if _, ok := m[k]; ok {
				t.Errorf("%s: unexpected %q", tt.rec, k)
			}
		}
	}
	rec := kube(httpEntry())
	rec.NodeID, rec.Worker = "n1", "w2"
	var m map[string]any
	if err := json.Unmarshal(AppendJSON(nil, rec), &m); err != nil {
		t.Fatal(err)
	}
	if m["node_id"] != "n1" || m["worker"] != "w2" {
		t.Errorf("node_id, worker = %v, %v", m["node_id"], m["worker"])
	}
}

func TestAppendJSONAllocs(t *testing.T) {
	rec := kube(httpEntry())
	buf := make([]byte, 0, 4096)
	allocs := testing.AllocsPerRun(100, func() { buf = AppendJSON(buf[:0], rec) })
	// IP strings, the identity lookups and the aggregate lists; no per-field boxing.
	if allocs > 12 {
		t.Errorf("AppendJSON allocates %.0f objects per run", allocs)
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", `q"uote\back`, "\x00\x01\x1f\x7f", "\b\f\n\r\t", "<&>",
		"\u2028\u2029", "héllo wörld", "\xff\xfe", "a\xc3", "\xed\xa0\x80", "emoji 🦈"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := appendString(nil, s)
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		if string(got) != strings.TrimSuffix(want.String(), "\n") {
			t.Fatalf("appendString(%q) = %s, want %s", s, got, want.String())
		}
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatal(err)
		}
		if utf8.ValidString(s) && back != s {
			t.Fatalf("round trip of %q gave %q", s, back)
		}
	})
}
