package http_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect/http"
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect/internal/dissecttest"
)

// goldenEntry is the JSON shape of an entry in golden files: every field the
// dissector and the pipeline fill, in a stable form.
type goldenEntry struct {
	ID           uint64        `json:"id"`
	Index        int           `json:"index"`
	Stream       uint64        `json:"stream"`
	Protocol     string        `json:"protocol"`
	Src          string        `json:"src"`
	Dst          string        `json:"dst"`
	Timestamp    string        `json:"timestamp"`
	ElapsedUS    int64         `json:"elapsed_us"`
	Interface    int           `json:"interface"`
	ErrorType    string        `json:"error_type,omitempty"`
	ErrorMessage string        `json:"error_message,omitempty"`
	HTTP         *dissect.HTTP `json:"http"`
}

func toGolden(entries []*dissect.Entry) []goldenEntry {
	out := make([]goldenEntry, 0, len(entries))
	for _, e := range entries {
		out = append(out, goldenEntry{
			ID: e.ID, Index: e.Index, Stream: uint64(e.Stream), Protocol: e.Protocol,
			Src: e.Src.String(), Dst: e.Dst.String(),
			Timestamp: e.Timestamp.UTC().Format("2006-01-02T15:04:05.000000Z07:00"),
			ElapsedUS: e.Elapsed.Microseconds(), Interface: e.Interface,
			ErrorType: e.ErrorType, ErrorMessage: e.ErrorMessage, HTTP: e.HTTP,
		})
	}
	return out
}

func TestReplayGolden(t *testing.T) {
	entries, stats := dissecttest.ReplayTCP(t, "testdata/nginx.pcap", http.Dissector)
	if stats.ProbeGiveUps != 0 {
		t.Errorf("%d streams not recognised as HTTP", stats.ProbeGiveUps)
	}
	if stats.SkippedBytes != 0 {
		t.Errorf("capture has %d bytes missing; regenerate it", stats.SkippedBytes)
	}
	for _, e := range entries {
		if e.ErrorType != "" {
			t.Errorf("entry %d (%s %s): error %s: %s", e.ID, e.HTTP.Method, e.HTTP.URL, e.ErrorType, e.ErrorMessage)
		}
	}
	got, err := json.MarshalIndent(toGolden(entries), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	dissecttest.CheckGolden(t, filepath.Join("testdata", "nginx.golden.json"), append(got, '\n'))
}

// tsharkMessage is one HTTP message of tshark's reading of the capture.
type tsharkMessage struct {
	frame     int
	stream    int
	method    string // request
	uri       string
	version   string
	code      int // response
	phrase    string
	requestIn int // frame of the request, when tshark linked it
}

// readTshark parses testdata/nginx.tshark.tsv (written by gen.sh): one line per frame,
// the fields of several messages in one frame joined with '|'.
func readTshark(t *testing.T) []tsharkMessage {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "nginx.tshark.tsv"))
	if err != nil {
		t.Fatalf("opening tshark oracle (regenerate with testdata/gen.sh): %v", err)
	}
	defer f.Close()
	var msgs []tsharkMessage
	sc := bufio.NewScanner(f)
	header := true
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		if header {
			header = false
			continue
		}
		// frame stream method uri req.version resp.version code phrase request_in cl
		col := strings.Split(line, "\t")
		if len(col) < 9 {
			t.Fatalf("tshark line %q: %d columns", line, len(col))
		}
		frame, _ := strconv.Atoi(col[0])
		stream, _ := strconv.Atoi(col[1])
		if col[2] != "" {
			methods, uris, versions := strings.Split(col[2], "|"), strings.Split(col[3], "|"), strings.Split(col[4], "|")
			for i := range methods {
				m := tsharkMessage{frame: frame, stream: stream, method: methods[i]}
				if i < len(uris) {
					m.uri = uris[i]
				}
				if i < len(versions) {
					m.version = versions[i]
				}
				msgs = append(msgs, m)
			}
		}
		if col[6] != "" {
			codes, phrases, reqIn := strings.Split(col[6], "|"), strings.Split(col[7], "|"), strings.Split(col[8], "|")
			for i := range codes {
				m := tsharkMessage{frame: frame, stream: stream}
				m.code, _ = strconv.Atoi(codes[i])
				if i < len(phrases) {
					m.phrase = phrases[i]
				}
				if i < len(reqIn) {
					m.requestIn, _ = strconv.Atoi(reqIn[i])
				}
				msgs = append(msgs, m)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return msgs
}

// TestReplayTshark compares our reading of the nginx capture with tshark's (the
// oracle, recorded by gen.sh): per TCP stream, the same requests (method, URI,
// version) and the same final responses (status code and phrase) in the same order,
// and, where tshark linked a response to its request, the same pairing. tshark lists
// interim 1xx responses as messages of their own; they are not exchanges, so they are
// left out, as 100 Continue is by our parser.
func TestReplayTshark(t *testing.T) {
	entries, _ := dissecttest.ReplayTCP(t, "testdata/nginx.pcap", http.Dissector)
	msgs := readTshark(t)

	type req struct{ method, uri, version string }
	type resp struct {
		code   int
		phrase string
	}
	tReq, tResp := map[int][]req{}, map[int][]resp{}
	byFrame := map[int]tsharkMessage{}
	var links []tsharkMessage
	streams := map[int]bool{}
	for _, m := range msgs {
		streams[m.stream] = true
		switch {
		case m.method != "":
			tReq[m.stream] = append(tReq[m.stream], req{m.method, m.uri, m.version})
			if _, dup := byFrame[m.frame]; !dup {
				byFrame[m.frame] = m
			}
		case m.code >= 100 && m.code < 200 && m.code != 101:
		default:
			tResp[m.stream] = append(tResp[m.stream], resp{m.code, m.phrase})
			if m.requestIn != 0 {
				links = append(links, m)
			}
		}
	}

	oReq, oResp := map[int][]req{}, map[int][]resp{}
	type pair struct {
		stream      int
		method, uri string
		code        int
	}
	ours := map[pair]bool{}
	for _, e := range entries {
		// tcp.stream counts from 0 in order of first packet, as StreamIDs from 1.
		s := int(e.Stream) - 1
		h := e.HTTP
		if h.HasRequest {
			oReq[s] = append(oReq[s], req{h.Method, h.URL, h.Version})
		}
		if h.HasResponse {
			oResp[s] = append(oResp[s], resp{h.StatusCode, h.StatusText})
		}
		if h.HasRequest && h.HasResponse {
			ours[pair{s, h.Method, h.URL, h.StatusCode}] = true
		}
	}
	if len(streams) == 0 {
		t.Fatal("tshark oracle lists no HTTP messages")
	}
	nReq, nResp := 0, 0
	for s := range streams {
		if got, want := fmt.Sprint(oReq[s]), fmt.Sprint(tReq[s]); got != want {
			t.Errorf("stream %d requests:\n got %s\nwant %s (tshark)", s, got, want)
		}
		if got, want := fmt.Sprint(oResp[s]), fmt.Sprint(tResp[s]); got != want {
			t.Errorf("stream %d responses:\n got %s\nwant %s (tshark)", s, got, want)
		}
		nReq += len(tReq[s])
		nResp += len(tResp[s])
	}
	if len(entries) != max(nReq, nResp) {
		t.Errorf("%d entries, tshark has %d requests and %d final responses", len(entries), nReq, nResp)
	}
	for _, l := range links {
		r, ok := byFrame[l.requestIn]
		if !ok {
			t.Errorf("tshark links frame %d to request frame %d, which it does not list", l.frame, l.requestIn)
			continue
		}
		if !ours[pair{l.stream, r.method, r.uri, l.code}] {
			t.Errorf("tshark pairs %s %s with %d in stream %d; we do not", r.method, r.uri, l.code, l.stream)
		}
	}
	t.Logf("%d entries agree with tshark (%d requests, %d final responses)", len(entries), nReq, nResp)
}
