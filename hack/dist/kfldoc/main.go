// Command kfldoc prints the KFL variable reference, docs/kfl.md, from the field
// registry (kfl.Markdown):
//
//	kfldoc                      print it
//	kfldoc -o docs/kfl.md       write it (make docs)
//	kfldoc -check docs/kfl.md   exit 1 when the file differs from it (make verify-docs)
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/kubectl-shark/kubectl-shark/pkg/kfl"
)

func main() {
	out := flag.String("o", "", "write the reference to this file instead of standard output")
	check := flag.String("check", "", "compare this file with the reference; exit 1 when it differs")
	flag.Parse()
	doc := []byte(kfl.Markdown())
	switch {
	case *check != "":
		have, err := os.ReadFile(*check)
		if err != nil {
			fail(err)
		}
		if line, ok := firstDiff(string(have), string(doc)); !ok {
			fmt.Fprintf(os.Stderr, "%s is out of date with the field registry (first difference at line %d): run make docs\n", *check, line)
			os.Exit(1)
		}
	case *out != "":
		tmp := *out + ".tmp"
		if err := os.WriteFile(tmp, doc, 0o644); err != nil {
			fail(err)
		}
		if err := os.Rename(tmp, *out); err != nil {
			fail(err)
		}
	default:
		if _, err := os.Stdout.Write(doc); err != nil {
			fail(err)
		}
	}
}

// firstDiff returns the 1-based number of the first line where a and b differ, and
// whether they are equal.
func firstDiff(a, b string) (int, bool) {
	if a == b {
		return 0, true
	}
	al, bl := strings.SplitAfter(a, "\n"), strings.SplitAfter(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return i + 1, false
		}
	}
	return min(len(al), len(bl)) + 1, false
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "kfldoc:", err)
	os.Exit(1)
}
