package main

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-shark/kubectl-shark/internal/cli"
	"github.com/kubectl-shark/kubectl-shark/pkg/kfl"
)

const docFile = "../../../docs/kfl.md"

// TestDocsUpToDate fails when docs/kfl.md is not what `make docs` writes.
func TestDocsUpToDate(t *testing.T) {
	have, err := os.ReadFile(docFile)
	if err != nil {
		t.Fatal(err)
	}
	if line, ok := firstDiff(string(have), kfl.Markdown()); !ok {
		t.Errorf("docs/kfl.md is out of date with the field registry (first difference at line %d): run make docs", line)
	}
}

// TestDocsListTheFields compares the variables of docs/kfl.md, row by row, with what
// `kubectl shark fields -o json` prints: the same names, each once, the same Filled.
func TestDocsListTheFields(t *testing.T) {
	doc, err := os.ReadFile(docFile)
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("^\\| `([^`]+)` \\| .* \\| (yes|no) \\| .*\\|$")
	docFilled := map[string]bool{}
	for _, l := range strings.Split(string(doc), "\n") {
		m := row.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		if _, dup := docFilled[m[1]]; dup {
			t.Errorf("docs/kfl.md lists %s twice", m[1])
		}
		docFilled[m[1]] = m[2] == "yes"
	}

	var out, errb bytes.Buffer
	if code := cli.Execute(t.Context(), []string{"fields", "-o", "json"}, genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errb}); code != 0 {
		t.Fatalf("fields -o json: exit %d: %s", code, errb.String())
	}
	var fields []struct {
		Name   string `json:"name"`
		Filled bool   `json:"filled"`
	}
	if err := json.Unmarshal(out.Bytes(), &fields); err != nil {
		t.Fatal(err)
	}
	if len(fields) == 0 {
		t.Fatal("fields -o json lists no variable")
	}
	var missing []string
	for _, f := range fields {
		filled, ok := docFilled[f.Name]
		if !ok {
			missing = append(missing, f.Name)
			continue
		}
		if filled != f.Filled {
			t.Errorf("%s: docs/kfl.md says filled=%v, fields -o json says %v", f.Name, filled, f.Filled)
		}
		delete(docFilled, f.Name)
	}
	var extra []string
	for n := range docFilled {
		extra = append(extra, n)
	}
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("docs/kfl.md does not list %d variables of `fields -o json`: %v", len(missing), missing)
	}
	if len(extra) > 0 {
		t.Errorf("docs/kfl.md lists %d variables `fields -o json` does not: %v", len(extra), extra)
	}
	t.Logf("%d variables", len(fields))
}

func TestFirstDiff(t *testing.T) {
	for _, c := range []struct {
		a, b string
		line int
		same bool
	}{
		{"x\ny\n", "x\ny\n", 0, true},
		{"x\ny\n", "x\nz\n", 2, false},
		{"x\n", "x\ny\n", 2, false},
		{"x", "x\n", 1, false},
	} {
		if line, same := firstDiff(c.a, c.b); line != c.line || same != c.same {
			t.Errorf("firstDiff(%q, %q) = %d, %v; want %d, %v", c.a, c.b, line, same, c.line, c.same)
		}
	}
}
