package redis

import (
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect/internal/dissecttest"
)

// tsharkStream is what tshark's RESP dissector (Wireshark 4.0, RESP2 only) saw on one
// TCP stream, in frame order.
type tsharkStream struct {
	commands [][]string // client multibulk commands, arguments as raw bytes
	strings  []string   // simple strings sent by the server
	errors   []string
	integers []string
	bulks    []string // bulk strings sent by the server (nested ones included)
}

func readTshark(t *testing.T, path string) map[int]*tsharkStream {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading tshark golden (testdata/gen.sh writes it): %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	col := map[string]int{}
	for i, h := range strings.Split(lines[0], "|") {
		col[h] = i
	}
	streams := map[int]*tsharkStream{}
	for _, line := range lines[1:] {
		f := strings.Split(line, "|")
		get := func(name string) string {
			i, ok := col[name]
			if !ok || i >= len(f) {
				t.Fatalf("tshark golden: no column %s in %q", name, line)
			}
			return f[i]
		}
		list := func(name string) []string {
			if v := get(name); v != "" {
				return strings.Split(v, ";")
			}
			return nil
		}
		n, _ := strconv.Atoi(get("tcp.stream"))
		s := streams[n]
		if s == nil {
			s = &tsharkStream{}
			streams[n] = s
		}
		var values []string
		for _, h := range list("resp.bulk_string.value") {
			v, err := hex.DecodeString(h)
			if err != nil {
				t.Fatalf("tshark golden: %q: %v", h, err)
			}
			values = append(values, string(v))
		}
		if get("tcp.dstport") == "6379" {
			for _, a := range list("resp.array.length") {
				k, _ := strconv.Atoi(a)
				if k > len(values) {
					t.Fatalf("tshark line %q: array of %d, %d values", line, k, len(values))
				}
				s.commands = append(s.commands, values[:k])
				values = values[k:]
			}
			continue
		}
		s.strings = append(s.strings, list("resp.string")...)
		s.errors = append(s.errors, list("resp.error")...)
		s.integers = append(s.integers, list("resp.integer")...)
		s.bulks = append(s.bulks, values...)
	}
	return streams
}

// subsequence reports whether want appears in order within have.
func subsequence(want, have []string) bool {
	i := 0
	for _, h := range have {
		if i < len(want) && h == want[i] {
			i++
		}
	}
	return i == len(want)
}

func TestReplayRedis(t *testing.T) {
	entries, stats := dissecttest.ReplayTCP(t, "testdata/redis.pcap", Dissector)
	dissecttest.CheckGolden(t, "testdata/redis.golden.json", dissecttest.GoldenJSON(t, entries, false))
	if stats.ProbeGiveUps != 0 {
		t.Errorf("%d streams not recognised", stats.ProbeGiveUps)
	}

	byStream := map[int][]*dissect.Entry{}
	for _, e := range entries {
		if e.Protocol != dissect.ProtoRedis || e.Redis == nil {
			t.Fatalf("entry %d: protocol %q", e.ID, e.Protocol)
		}
		if e.Dst.Port != 6379 {
			t.Errorf("entry %d: %v → %v, the client should be the source", e.ID, e.Src, e.Dst)
		}
		byStream[int(e.Stream)-1] = append(byStream[int(e.Stream)-1], e)
	}
	ts := readTshark(t, "testdata/redis.tshark.txt")
	var commands, replies int
	for n, s := range ts {
		got := byStream[n]
		resp3 := false
		var gotCmds []*dissect.Redis
		for _, e := range got {
			if e.Redis.HasRequest {
				gotCmds = append(gotCmds, e.Redis)
				resp3 = resp3 || e.Redis.Command == "HELLO 3"
			}
		}
		// Commands: all of them, in order, in every stream tshark decoded.
		if len(s.commands) > 0 && len(s.commands) != len(gotCmds) {
			t.Errorf("stream %d: tshark saw %d commands, the dissector %d", n, len(s.commands), len(gotCmds))
			continue
		}
		for i, args := range s.commands {
			r := gotCmds[i]
			var want []string
			for _, a := range args {
				want = append(want, esc([]byte(a), maxCommand))
			}
			line := strings.Join(want, " ")
			if r.Type != strings.ToUpper(want[0]) || (r.Command != line && !(strings.HasSuffix(r.Command, "...") &&
				strings.HasPrefix(line, strings.TrimSuffix(r.Command, "...")))) {
				t.Errorf("stream %d command %d: %s %q, tshark %q", n, i, r.Type, r.Command, line)
			}
			commands++
		}
		if resp3 {
			continue // tshark 4.0 does not decode RESP3 replies
		}
		// Replies: simple strings and errors exactly, integers and bulk strings as
		// subsequences (tshark also lists the elements of arrays).
		var strs, errs, ints, bulks []string
		for _, e := range got {
			r := e.Redis
			if !r.HasResponse {
				continue
			}
			replies++
			switch {
			case r.ReplyIsError:
				errs = append(errs, strings.TrimPrefix(r.Reply, "(error) "))
			case strings.HasPrefix(r.Reply, "(integer) "):
				ints = append(ints, strings.TrimPrefix(r.Reply, "(integer) "))
			case strings.HasPrefix(r.Reply, `"`):
				bulks = append(bulks, r.Reply)
			case r.Reply == "(nil)" || strings.HasPrefix(r.Reply, "("):
			default:
				strs = append(strs, r.Reply)
			}
		}
		var tsBulks []string
		for _, b := range s.bulks {
			v := value{text: []byte(b), textFull: int64(len(b)), typ: '$'}
			if len(v.text) > keepBulk {
				v.text = v.text[:keepBulk]
			}
			r, _ := renderReply(&v)
			tsBulks = append(tsBulks, r)
		}
		if strings.Join(strs, "|") != strings.Join(s.strings, "|") || strings.Join(errs, "|") != strings.Join(s.errors, "|") ||
			!subsequence(ints, s.integers) || !subsequence(bulks, tsBulks) {
			t.Errorf("stream %d replies:\n strings %q errors %q integers %q bulks %q\ntshark: strings %q errors %q integers %q bulks %q",
				n, strs, errs, ints, bulks, s.strings, s.errors, s.integers, tsBulks)
		}
	}
	if commands < 40 || replies < 20 {
		t.Errorf("only %d commands and %d replies compared with tshark", commands, replies)
	}
	t.Logf("%d entries on %d streams; %d commands and %d replies agree with tshark", len(entries), len(byStream), commands, replies)
}
