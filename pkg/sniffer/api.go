package sniffer

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
	"github.com/kubectl-shark/kubectl-shark/pkg/export"
	"github.com/kubectl-shark/kubectl-shark/pkg/kfl"
	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/wire"
	"github.com/kubectl-shark/kubectl-shark/pkg/streamsel"
)

// Query selects entries or packets; it is the body of the agent's POST /entries and
// POST /pcap.
type Query = wire.Query

// parsed is a validated Query.
type parsed struct {
	filter       *kfl.Filter
	since, until time.Time
	limit        int
	follow       bool
	bpf          *streamsel.BPF // nil: every packet
	rec          kfl.Record
	names        map[netip.Addr][]string
}

// badRequest is an error shown to the client with status 400.
type badRequest struct{ error }

func parseTime(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a duration (5m, 1h30m) nor an RFC 3339 time (2026-03-14T22:00:00Z)", s)
	}
	return t, nil
}

func (a *Agent) parseQuery(r *http.Request) (*parsed, error) {
	var q Query
	switch r.Method {
	case http.MethodGet:
		v := r.URL.Query()
		q.KFL, q.BPF, q.Since, q.Until = v.Get("kfl"), v.Get("bpf"), v.Get("since"), v.Get("until")
		if s := v.Get("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				return nil, badRequest{fmt.Errorf("limit %q is not a non-negative number", s)}
			}
			q.Limit = n
		}
		q.Follow = v.Get("follow") == "1" || v.Get("follow") == "true"
	case http.MethodPost:
		dec := json.NewDecoder(io.LimitReader(r.Body, 64<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&q); err != nil {
			return nil, badRequest{fmt.Errorf("decoding the query: %w", err)}
		}
	default:
		return nil, badRequest{fmt.Errorf("method %s not allowed: use GET or POST", r.Method)}
	}
	p := &parsed{limit: q.Limit, follow: q.Follow}
	f, err := kfl.Compile(q.KFL)
	if err != nil {
		return nil, badRequest{err}
	}
	p.filter = f
	now := time.Now()
	if p.since, err = parseTime(q.Since, now); err != nil {
		return nil, badRequest{fmt.Errorf("since: %w", err)}
	}
	if p.until, err = parseTime(q.Until, now); err != nil {
		return nil, badRequest{fmt.Errorf("until: %w", err)}
	}
	if err := streamsel.CheckBPF(q.BPF); err != nil {
		return nil, badRequest{err}
	}
	p.bpf = streamsel.NewBPF(q.BPF)
	p.rec.Node, p.rec.NodeIP = q.Node, q.NodeIP
	if p.rec.Node == "" {
		p.rec.Node = a.cfg.Node
	}
	// Identities snapshotted at capture start fill in IPs the query does not know
	// (pods that are gone since).
	for ip, id := range a.storedIdentities() {
		if q.Identities == nil {
			q.Identities = map[string]kfl.Identity{}
		}
		if _, ok := q.Identities[ip]; !ok {
			q.Identities[ip] = id
		}
	}
	if len(q.Identities) > 0 {
		ids := kfl.Identities{}
		p.names = map[netip.Addr][]string{}
		for s, id := range q.Identities {
			ip, err := netip.ParseAddr(s)
			if err != nil {
				return nil, badRequest{fmt.Errorf("identities: %q is not an IP address", s)}
			}
			ids[ip.Unmap()] = id
			if id.Pod != "" {
				p.names[ip.Unmap()] = append(p.names[ip.Unmap()], id.Pod+"."+id.Namespace)
			}
			if id.Service != "" {
				ns := id.ServiceNamespace
				if ns == "" {
					ns = id.Namespace
				}
				p.names[ip.Unmap()] = append(p.names[ip.Unmap()], id.Service+"."+ns+".svc")
			}
		}
		p.rec.Resolver = ids
	}
	return p, nil
}

func (p *parsed) inWindow(t time.Time) bool {
	if !p.since.IsZero() && t.Before(p.since) {
		return false
	}
	if !p.until.IsZero() && t.After(p.until) {
		return false
	}
	return true
}

func writeError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	var br badRequest
	if errors.As(err, &br) {
		code = http.StatusBadRequest
	}
	http.Error(w, err.Error(), code)
}

// Handler returns the agent's HTTP API.
func (a *Agent) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-a.ready:
			io.WriteString(w, "ok\n")
		default:
			http.Error(w, "not capturing yet", http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(a.Status())
	})
	mux.HandleFunc("/heartbeat", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("/context", a.serveContext)
	mux.HandleFunc("/entries", a.serveEntries)
	mux.HandleFunc("/pcap", a.servePcap)
	mux.HandleFunc("/stop", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			writeError(w, badRequest{errors.New("use POST /stop")})
			return
		}
		a.Stop()
		io.WriteString(w, "stopped\n")
	})
	mux.HandleFunc("/start", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			writeError(w, badRequest{errors.New("use POST /start?filter=EXPR")})
			return
		}
		filter := a.currentFilter()
		if r.URL.Query().Has("filter") {
			filter = r.URL.Query().Get("filter")
		}
		if _, err := compileFilter(filter, a.cfg.SnapLen); err != nil {
			writeError(w, badRequest{err})
			return
		}
		if err := a.Start(filter); err != nil {
			writeError(w, err)
			return
		}
		io.WriteString(w, "capturing\n")
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Every request from the plugin proves it is alive (the dead-man switch),
		// except the kubelet's readiness probe.
		if r.URL.Path != "/readyz" {
			a.touch()
		}
		mux.ServeHTTP(w, r)
	})
}

func (a *Agent) currentFilter() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.filter
}

// serveEntries streams matching entries as NDJSON, oldest first; with follow it
// then streams new ones until the client goes away.
func (a *Agent) serveEntries(w http.ResponseWriter, r *http.Request) {
	q, err := a.parseQuery(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var live chan *dissect.Entry
	if q.follow {
		// Subscribe before scanning, so nothing falls between the two; entries seen
		// in both are skipped by ID.
		live = a.subscribe()
		defer a.unsubscribe(live)
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	bw := bufio.NewWriterSize(w, 64<<10)
	fl, _ := w.(http.Flusher)
	rec := q.rec
	var buf []byte
	var sent int
	var lastID uint64
	emit := func(e *dissect.Entry) (bool, error) {
		if !q.inWindow(e.Timestamp) {
			return false, nil
		}
		rec.Entry = e
		ok, _ := q.filter.MatchContext(r.Context(), &rec)
		if !ok {
			return false, nil
		}
		buf = kfl.AppendJSON(buf[:0], &rec)
		buf = append(buf, '\n')
		if _, err := bw.Write(buf); err != nil {
			return false, err
		}
		sent++
		return true, nil
	}
	errStop := errors.New("limit reached")
	err = a.fifo.ScanEntries(func(e *dissect.Entry) error {
		if e.ID > lastID {
			lastID = e.ID
		}
		if _, err := emit(e); err != nil {
			return err
		}
		if q.limit > 0 && sent >= q.limit {
			return errStop
		}
		return r.Context().Err()
	})
	if err != nil && !errors.Is(err, errStop) {
		if sent == 0 && r.Context().Err() == nil {
			writeError(w, err)
			return
		}
		bw.Flush()
		return
	}
	bw.Flush()
	if !q.follow || errors.Is(err, errStop) {
		return
	}
	if fl != nil {
		fl.Flush()
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case e := <-live:
			if e.ID <= lastID {
				continue
			}
			if _, err := emit(e); err != nil {
				return
			}
			if q.limit > 0 && sent >= q.limit {
				bw.Flush()
				return
			}
			if len(live) == 0 {
				bw.Flush()
				if fl != nil {
					fl.Flush()
				}
			}
		}
	}
}

// servePcap streams a PCAPNG of the packets of matching streams (every packet without
// a KFL filter), ending with Interface Statistics Blocks that carry the drop counts.
func (a *Agent) servePcap(w http.ResponseWriter, r *http.Request) {
	q, err := a.parseQuery(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var streams *streamsel.Set // nil: every stream
	if !q.filter.MatchesAll() {
		streams = streamsel.NewSet()
		rec := q.rec
		err := a.fifo.ScanEntries(func(e *dissect.Entry) error {
			if e.Stream == 0 || streams.Has(e.Stream) {
				return nil
			}
			rec.Entry = e
			if ok, _ := q.filter.MatchContext(r.Context(), &rec); ok {
				streams.Add(e.Stream)
			}
			return r.Context().Err()
		})
		if err != nil {
			writeError(w, err)
			return
		}
	}
	w.Header().Set("Content-Type", "application/vnd.tcpdump.pcapng")
	out, err := export.NewPcapNGWriter(w, export.PcapNGOptions{Application: "kubectl-shark sniffer " + a.cfg.Version,
		Comment: "capture " + a.cfg.Name + " of " + a.tgt.Description})
	if err != nil {
		return
	}
	for ip, names := range q.names {
		out.AddNameResolution(ip, names...)
	}
	type ifKey struct {
		name string
		lt   layers.LinkType
	}
	outIdx := map[ifKey]int{}
	var written int
	err = a.fifo.ScanPackets(func(p export.Packet, ifaces []export.Interface, stream dissect.StreamID) error {
		if !streams.Has(stream) {
			return nil
		}
		if !q.inWindow(p.Timestamp) {
			return nil
		}
		ifc := ifaces[p.Interface]
		if ok, err := q.bpf.Match(ifc.LinkType, p.Data, p.Length); !ok {
			return err
		}
		k := ifKey{ifc.Name, ifc.LinkType}
		idx, ok := outIdx[k]
		if !ok {
			var err error
			if idx, err = out.AddInterface(ifc); err != nil {
				return err
			}
			outIdx[k] = idx
		}
		p.Interface = idx
		if err := out.WritePacket(p); err != nil {
			return err
		}
		written++
		if written%1024 == 0 {
			if err := out.Flush(); err != nil {
				return err
			}
		}
		return r.Context().Err()
	})
	if err != nil {
		// Headers are sent: end the stream here; the client sees a short file.
		a.log.Warn("serving /pcap", "error", err)
		out.Flush()
		return
	}
	st := a.Status()
	now := time.Now()
	first := true
	for k, idx := range outIdx {
		is := export.InterfaceStats{Interface: idx, Timestamp: now, Start: st.Started}
		for _, si := range st.Interfaces {
			if si.Name == k.name {
				is.Received = export.Count(si.Packets)
			}
		}
		if first {
			// The kernel counts drops per capture socket, not per interface.
			is.Dropped = export.Count(st.KernelDrops)
			is.Comment = "drops counted by the capture socket over all interfaces of " + st.Target
			first = false
		}
		out.WriteInterfaceStats(is)
	}
	out.Flush()
}

// StatusInterface is one interface in /status.
type StatusInterface struct {
	Name     string `json:"name"`
	LinkType string `json:"linkType"`
	Packets  uint64 `json:"packets"`
}

// FIFOStatus is the FIFO part of /status.
type FIFOStatus struct {
	Bytes           int64     `json:"bytes"`
	Capacity        int64     `json:"capacity"`
	SegmentSize     int64     `json:"segmentSize"`
	Segments        int       `json:"segments"`
	Packets         uint64    `json:"packets"`
	Entries         uint64    `json:"entries"`
	Oldest          time.Time `json:"oldest,omitzero"`
	Newest          time.Time `json:"newest,omitzero"`
	DroppedSegments uint64    `json:"droppedSegments"`
	DroppedPackets  uint64    `json:"droppedPackets"`
	WriteErrors     uint64    `json:"writeErrors"`
	LastError       string    `json:"lastError,omitempty"`
}

// Status is the body of GET /status.
type Status struct {
	Name        string `json:"name,omitempty"`
	Node        string `json:"node,omitempty"`
	Version     string `json:"version,omitempty"`
	Target      string `json:"target"`
	Source      string `json:"source"`
	PID         int    `json:"pid,omitempty"`
	ContainerID string `json:"containerID,omitempty"`
	State       string `json:"state"`
	// Backend is the capture backend in use: "af_packet" or "ebpf".
	Backend     string            `json:"backend,omitempty"`
	Error       string            `json:"error,omitempty"`
	Filter      string            `json:"filter,omitempty"`
	Started     time.Time         `json:"started,omitzero"`
	Interfaces  []StatusInterface `json:"interfaces"`
	Packets     uint64            `json:"packets"`
	Bytes       uint64            `json:"bytes"`
	KernelDrops uint64            `json:"kernelDrops"`
	RingFreezes uint64            `json:"ringFreezes"`
	Skipped     uint64            `json:"skipped"`
	FIFO        FIFOStatus        `json:"fifo"`
	Entries     map[string]uint64 `json:"entries"`
	Dissect     DissectStatus     `json:"dissect"`
	// TLS reports the OpenSSL uprobes of --tls (absent without it).
	TLS *TLSStatus `json:"tls,omitempty"`
}

// DissectStatus reports the pipeline's counters.
type DissectStatus struct {
	TCPStreams   uint64 `json:"tcpStreams"`
	UDPStreams   uint64 `json:"udpStreams"`
	SkippedBytes uint64 `json:"skippedBytes"`
	Undecodable  uint64 `json:"undecodable"`
	Fragments    uint64 `json:"fragments"`
	EvictedFlows uint64 `json:"evictedFlows"`
}

// packetsOf returns the packets counted on FIFO interface i. Called with a.mu held.
func (a *Agent) packetsOf(i int) uint64 {
	if i < len(a.ifPkts) {
		return a.ifPkts[i]
	}
	return 0
}

// Status reports what the agent is doing and holds.
func (a *Agent) Status() Status {
	a.mu.Lock()
	st := Status{Name: a.cfg.Name, Node: a.cfg.Node, Version: a.cfg.Version, Target: a.tgt.Description,
		Source: string(a.tgt.Source), PID: a.tgt.PID, ContainerID: a.tgt.ContainerID,
		State: a.state, Backend: a.backend, Error: a.lastErr, Filter: a.filter, Started: a.started}
	ks := a.prevDrop
	if a.handle != nil {
		h := a.handle.Stats()
		ks.KernelDrops += h.KernelDrops
		ks.FreezeQueue += h.FreezeQueue
		ks.Skipped += h.Skipped
	}
	ps := a.pipeline.Stats()
	var tps *dissect.Stats
	if a.tlsPipeline != nil {
		s := a.tlsPipeline.Stats()
		tps = &s
	}
	st.TLS = a.tlsStatus()
	ifaces := a.fifo.Interfaces()
	for i, ifc := range ifaces {
		st.Interfaces = append(st.Interfaces, StatusInterface{Name: ifc.Name, LinkType: ifc.LinkType.String(), Packets: a.packetsOf(i)})
	}
	a.mu.Unlock()
	st.Packets, st.Bytes = a.packets.Load(), a.bytes.Load()
	st.KernelDrops, st.RingFreezes, st.Skipped = ks.KernelDrops, ks.FreezeQueue, ks.Skipped
	fs := a.fifo.Stats()
	st.FIFO = FIFOStatus{Bytes: fs.Bytes, Capacity: a.cfg.BufferSize, SegmentSize: a.cfg.SegmentSize, Segments: fs.Segments,
		Packets: fs.Packets, Entries: fs.Entries, Oldest: fs.Oldest, Newest: fs.Newest,
		DroppedSegments: fs.DroppedSegments, DroppedPackets: fs.DroppedPackets, WriteErrors: fs.WriteErrors, LastError: fs.LastError}
	if st.Error == "" && fs.LastError != "" && fs.WriteErrors > 0 {
		st.Error = fs.LastError
	}
	st.Entries = ps.Entries
	if tps != nil {
		for proto, n := range tps.Entries {
			st.Entries[proto+"/tls"] += n
		}
	}
	st.Dissect = DissectStatus{TCPStreams: ps.TCPStreams, UDPStreams: ps.UDPStreams, SkippedBytes: ps.SkippedBytes,
		Undecodable: ps.Undecodable, Fragments: ps.Fragments, EvictedFlows: ps.EvictedFlows}
	if st.Interfaces == nil {
		st.Interfaces = []StatusInterface{}
	}
	return st
}

// contextFile is where the identity snapshot taken at capture start is kept.
func (a *Agent) contextFile() string { return filepath.Join(a.cfg.DataDir, "context.json") }

func (a *Agent) storedIdentities() map[string]kfl.Identity {
	a.ctxMu.Lock()
	defer a.ctxMu.Unlock()
	if a.ctxIDs == nil {
		b, err := os.ReadFile(a.contextFile())
		a.ctxIDs = map[string]kfl.Identity{}
		if err == nil {
			json.Unmarshal(b, &a.ctxIDs)
		}
	}
	return a.ctxIDs
}

// serveContext stores (PUT/POST) or returns (GET) the identity snapshot: IP ->
// Kubernetes identity at capture start. It survives restarts with the FIFO.
func (a *Agent) serveContext(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(a.storedIdentities())
	case http.MethodPost, http.MethodPut:
		var ids map[string]kfl.Identity
		if err := json.NewDecoder(io.LimitReader(r.Body, 64<<20)).Decode(&ids); err != nil {
			writeError(w, badRequest{fmt.Errorf("decoding identities: %w", err)})
			return
		}
		for ip := range ids {
			if _, err := netip.ParseAddr(ip); err != nil {
				writeError(w, badRequest{fmt.Errorf("identities: %q is not an IP address", ip)})
				return
			}
		}
		b, _ := json.Marshal(ids)
		tmp := a.contextFile() + ".tmp"
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			writeError(w, err)
			return
		}
		if err := os.Rename(tmp, a.contextFile()); err != nil {
			writeError(w, err)
			return
		}
		a.ctxMu.Lock()
		a.ctxIDs = ids
		a.ctxMu.Unlock()
		io.WriteString(w, "stored\n")
	default:
		writeError(w, badRequest{errors.New("use GET or POST /context")})
	}
}
