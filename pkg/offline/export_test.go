package offline

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect/protocols"
	"github.com/kubectl-shark/kubectl-shark/pkg/export"
)

// exportDissected is Export without a filter as it was before it skipped dissection:
// a dissecting first pass numbers each packet's stream, the second writes them all.
func exportDissected(t *testing.T, path string, opts ExportOptions, w io.Writer) (export.Summary, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var res Result
	var streamOf []uint32
	p := dissect.New(protocols.Config(), func(*dissect.Entry) {})
	readErr := feed(context.Background(), f, p, &res, func(id dissect.StreamID) { streamOf = append(streamOf, uint32(id)) })
	p.Flush()
	if readErr != nil && !isFormatError(readErr) {
		return export.Summary{}, readErr
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	sum, err := write(context.Background(), f, func(i int, _ export.Packet, _ layers.LinkType) uint32 {
		if i < len(streamOf) {
			return streamOf[i]
		}
		return 0
	}, nil, opts, w)
	if err != nil {
		return sum, err
	}
	return sum, readErr
}

// Without --kfl, Export writes byte for byte what the dissecting export wrote, and
// counts the same streams.
func TestExportAllMatchesDissected(t *testing.T) {
	var paths []string
	for _, pat := range []string{"../export/testdata/*.pcap", "../export/testdata/*.pcapng", "../dissect/*/testdata/*.pcap", "../dissect/*/testdata/*.pcapng"} {
		m, _ := filepath.Glob(pat)
		paths = append(paths, m...)
	}
	// A corrupt tail: the packets before it, then the error.
	data, err := os.ReadFile("../export/testdata/merged.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.pcapng")
	if err := os.WriteFile(cut, data[:len(data)*2/3+7], 0o644); err != nil {
		t.Fatal(err)
	}
	paths = append(paths, cut)
	if len(paths) < 10 {
		t.Fatalf("found only %d captures", len(paths))
	}
	_, haveCapinfos := exec.LookPath("capinfos")
	for _, path := range paths {
		for _, opts := range []ExportOptions{
			{Format: PCAPNG, Version: "test"},
			{Format: PCAP},
			{Format: PCAPNG, BPF: "tcp port 80 or udp"},
		} {
			t.Run(filepath.Base(path)+"/"+string(opts.Format)+"/"+opts.BPF, func(t *testing.T) {
				var want, got bytes.Buffer
				wantSum, wantErr := exportDissected(t, path, opts, &want)
				gotSum, res, gotErr := Export(context.Background(), Input{Path: path}, protocols.Config(), opts, &got)
				if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
					t.Fatalf("error %v, before %v", gotErr, wantErr)
				}
				if !bytes.Equal(got.Bytes(), want.Bytes()) {
					t.Errorf("wrote %d bytes, before %d; not the same bytes", got.Len(), want.Len())
				}
				if gotSum != wantSum {
					t.Errorf("summary %+v, before %+v", gotSum, wantSum)
				}
				if res.Streams != wantSum.Streams {
					t.Errorf("Result.Streams %d, want %d", res.Streams, wantSum.Streams)
				}
				if gotErr == nil && gotSum.Packets == 0 && opts.BPF == "" {
					t.Errorf("no packets written")
				}
				if haveCapinfos == nil && gotErr == nil && opts.BPF == "" {
					out := filepath.Join(t.TempDir(), "out."+string(opts.Format))
					if err := os.WriteFile(out, got.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
					for _, tool := range [][]string{{"capinfos", out}, {"tshark", "-n", "-r", out}} {
						cmd := exec.Command(tool[0], tool[1:]...)
						var stderr bytes.Buffer
						cmd.Stdout, cmd.Stderr = io.Discard, &stderr
						if err := cmd.Run(); err != nil || toolWarnings(stderr.String()) != "" {
							t.Errorf("%s: %v\n%s", strings.Join(tool, " "), err, stderr.String())
						}
					}
				}
			})
		}
	}
}

// toolWarnings drops what capinfos and tshark print to everyone running as root.
func toolWarnings(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "Running as user \"root\"") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}
