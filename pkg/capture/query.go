package capture

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kubectl-shark/kubectl-shark/pkg/export"
	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/wire"
)

// ErrNoCapture is wrapped when no sniffer carries the capture's label.
var ErrNoCapture = errors.New("no such capture")

// Sniffers lists the sniffer pods of a capture in ns ("" for all namespaces).
func Sniffers(ctx context.Context, c Clients, ns, name string) ([]corev1.Pod, error) {
	sel := labels.Set{LabelManagedBy: ManagedByValue, LabelCapture: name}
	list, err := c.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, fmt.Errorf("listing the sniffers of capture %q: %w", name, err)
	}
	if len(list.Items) == 0 {
		where := "namespace " + ns
		if ns == "" {
			where = "any namespace"
		}
		return nil, fmt.Errorf("%w %q in %s (see 'kubectl shark list -A')", ErrNoCapture, name, where)
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	return list.Items, nil
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// Query selects entries or packets; it is the body of the agent's POST /entries and
// POST /pcap.
type Query = wire.Query

// fanOut opens a tunnel to each ready sniffer (at most 8 at a time) and calls fn.
// Sniffers that are not ready are reported through warn and skipped.
func fanOut(ctx context.Context, c Clients, pods []corev1.Pod, warn Progress, fn func(ctx context.Context, t *Tunnel) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	n := 0
	for i := range pods {
		p := &pods[i]
		if !podReady(p) {
			warn("skipping sniffer %s: not ready (%s)", p.Name, p.Status.Phase)
			continue
		}
		n++
		g.Go(func() error {
			t, err := Open(ctx, c, p)
			if err != nil {
				return err
			}
			defer t.Close()
			return fn(ctx, t)
		})
	}
	if n == 0 {
		return fmt.Errorf("no sniffer of this capture is ready")
	}
	return g.Wait()
}

// Entries asks every sniffer of a capture for matching entries (KFL evaluated on
// the sniffers) and writes them to out as NDJSON, merged by timestamp. With Follow
// it prints entries as they arrive until ctx ends.
func Entries(ctx context.Context, c Clients, ns, name string, q Query, out io.Writer, warn Progress) error {
	pods, err := Sniffers(ctx, c, ns, name)
	if err != nil {
		return err
	}
	if q.Identities == nil {
		q.Identities = Identities(ctx, c, warn)
	}
	var mu sync.Mutex
	type line struct {
		ts  time.Time
		raw []byte
	}
	var lines []line
	err = fanOut(ctx, c, pods, warn, func(ctx context.Context, t *Tunnel) error {
		qq := q
		qq.Node = t.Pod.Spec.NodeName
		body, _ := json.Marshal(qq)
		resp, err := t.Do(ctx, http.MethodPost, "/entries", nil, bytes.NewReader(body))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			b := append([]byte(nil), sc.Bytes()...)
			if q.Follow {
				mu.Lock()
				_, err := out.Write(append(b, '\n'))
				mu.Unlock()
				if err != nil {
					return err
				}
				continue
			}
			var ts struct {
				Timestamp time.Time `json:"timestamp"`
			}
			json.Unmarshal(b, &ts)
			mu.Lock()
			lines = append(lines, line{ts.Timestamp, b})
			mu.Unlock()
		}
		if err := sc.Err(); err != nil && ctx.Err() == nil {
			return fmt.Errorf("reading entries from %s: %w", t.Pod.Name, err)
		}
		return nil
	})
	if q.Follow && ctx.Err() != nil {
		return nil
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].ts.Before(lines[j].ts) })
	if q.Limit > 0 && len(lines) > q.Limit {
		lines = lines[:q.Limit]
	}
	for _, l := range lines {
		if _, werr := out.Write(append(l.raw, '\n')); werr != nil {
			return werr
		}
	}
	return err
}

// Export asks every sniffer for the packets of matching streams and writes them to
// dst merged by timestamp: one interface per target pod and capture interface
// (named namespace/pod/container:iface, described with the node), name resolution
// records for pod and service IPs, and each sniffer's drop counts.
func Export(ctx context.Context, c Clients, ns, name string, q Query, dst export.Writer, warn Progress) error {
	pods, err := Sniffers(ctx, c, ns, name)
	if err != nil {
		return err
	}
	if q.Identities == nil {
		q.Identities = Identities(ctx, c, warn)
	}
	// Each sniffer's stream is read by its own goroutine into a pipe; the merge
	// pulls from all of them.
	var ready []*corev1.Pod
	for i := range pods {
		if podReady(&pods[i]) {
			ready = append(ready, &pods[i])
		} else {
			warn("skipping sniffer %s: not ready (%s)", pods[i].Name, pods[i].Status.Phase)
		}
	}
	if len(ready) == 0 {
		return fmt.Errorf("no sniffer of capture %q is ready", name)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(len(ready) + 1)
	srcs := make([]export.Source, len(ready))
	openErrs := make([]error, len(ready))
	var wg sync.WaitGroup
	for i, p := range ready {
		pr, pw := io.Pipe()
		wg.Add(1)
		g.Go(func() error {
			t, err := Open(gctx, c, p)
			if err != nil {
				openErrs[i] = err
				wg.Done()
				pw.CloseWithError(err)
				return nil
			}
			defer t.Close()
			qq := q
			qq.Node = p.Spec.NodeName
			body, _ := json.Marshal(qq)
			resp, err := t.Do(gctx, http.MethodPost, "/pcap", nil, bytes.NewReader(body))
			if err != nil {
				openErrs[i] = err
				wg.Done()
				pw.CloseWithError(err)
				return nil
			}
			wg.Done()
			defer resp.Body.Close()
			_, err = io.Copy(pw, resp.Body)
			pw.CloseWithError(err)
			return nil
		})
		srcs[i] = &lazySource{pr: pr, pod: p}
	}
	wg.Wait()
	var live []export.Source
	for i, s := range srcs {
		if openErrs[i] != nil {
			var ae *APIError
			if errors.As(openErrs[i], &ae) && ae.Code == http.StatusBadRequest {
				return openErrs[i] // a bad query: every sniffer says the same
			}
			warn("skipping sniffer %s: %v", ready[i].Name, openErrs[i])
			continue
		}
		live = append(live, s)
	}
	if len(live) == 0 {
		return errors.Join(openErrs...)
	}
	m := export.Merge(live...)
	copyErr := export.Copy(dst, m)
	g.Wait()
	return copyErr
}

// lazySource opens the pcapng reader on its pipe at the first call, and renames
// the sniffer's interfaces after the target pod.
type lazySource struct {
	pr     *io.PipeReader
	pod    *corev1.Pod
	r      *export.Reader
	err    error
	ifaces []export.Interface
}

func (s *lazySource) open() error {
	if s.r == nil && s.err == nil {
		s.r, s.err = export.Open(s.pr)
		if s.err != nil {
			s.err = fmt.Errorf("reading the capture of sniffer %s: %w", s.pod.Name, s.err)
		}
	}
	return s.err
}

func (s *lazySource) Next() (export.Packet, error) {
	if err := s.open(); err != nil {
		return export.Packet{}, err
	}
	return s.r.Next()
}

func (s *lazySource) Interfaces() []export.Interface {
	if s.open() != nil {
		return nil
	}
	in := s.r.Interfaces()
	for len(s.ifaces) < len(in) {
		ifc := in[len(s.ifaces)]
		target := s.pod.Annotations[AnnotationTarget]
		desc := fmt.Sprintf("%s on node %s, captured by %s", strings.ReplaceAll(target, "/", " "), s.pod.Spec.NodeName, s.pod.Name)
		if ifc.Name == wire.TLSInterfaceName {
			desc = wire.TLSInterfaceDescription + "; " + desc
		}
		ifc.Name = target + ":" + ifc.Name
		ifc.Description = desc
		s.ifaces = append(s.ifaces, ifc)
	}
	return s.ifaces
}

func (s *lazySource) Names() []export.NameRecord {
	if s.open() != nil {
		return nil
	}
	return s.r.Names()
}

func (s *lazySource) Stats() []export.InterfaceStats {
	if s.open() != nil {
		return nil
	}
	return s.r.Stats()
}

// Status is one sniffer's /status, as list and get show it.
type Status struct {
	Pod         string            `json:"pod"`
	Namespace   string            `json:"namespace"`
	Node        string            `json:"node"`
	Target      string            `json:"target"`
	Phase       string            `json:"phase"`
	Ready       bool              `json:"ready"`
	Error       string            `json:"error,omitempty"`
	Agent       *json.RawMessage  `json:"agent,omitempty"` // the sniffer's /status
	Summary     SnifferSummary    `json:"summary"`
	Entries     map[string]uint64 `json:"entries,omitempty"`
	Created     time.Time         `json:"created"`
	TTLDeadline time.Time         `json:"ttlDeadline,omitzero"`
}

// SnifferSummary is the part of a sniffer's status tables show.
type SnifferSummary struct {
	State string `json:"state"`
	// Backend is the capture backend the sniffer uses ("af_packet", "ebpf"), with
	// "+tls" when its OpenSSL uprobes are attached.
	Backend     string    `json:"backend,omitempty"`
	Packets     uint64    `json:"packets"`
	KernelDrops uint64    `json:"kernelDrops"`
	FIFOBytes   int64     `json:"fifoBytes"`
	FIFOCap     int64     `json:"fifoCapacity"`
	Oldest      time.Time `json:"oldest,omitzero"`
	Newest      time.Time `json:"newest,omitzero"`
}

// Statuses asks every sniffer of a capture for its status (sniffers that cannot be
// reached are reported with their pod phase and the error).
func Statuses(ctx context.Context, c Clients, ns, name string) ([]Status, *Spec, error) {
	pods, err := Sniffers(ctx, c, ns, name)
	if err != nil {
		return nil, nil, err
	}
	var spec Spec
	json.Unmarshal([]byte(pods[0].Annotations[AnnotationSpec]), &spec)
	out := make([]Status, len(pods))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i := range pods {
		p := &pods[i]
		out[i] = Status{Pod: p.Name, Namespace: p.Namespace, Node: p.Spec.NodeName, Target: p.Annotations[AnnotationTarget],
			Phase: string(p.Status.Phase), Ready: podReady(p), Created: p.CreationTimestamp.Time}
		if p.Spec.ActiveDeadlineSeconds != nil && p.Status.StartTime != nil {
			out[i].TTLDeadline = p.Status.StartTime.Add(time.Duration(*p.Spec.ActiveDeadlineSeconds) * time.Second)
		}
		if !out[i].Ready {
			out[i].Summary.State = strings.ToLower(string(p.Status.Phase))
			continue
		}
		g.Go(func() error {
			t, err := Open(gctx, c, p)
			if err != nil {
				out[i].Error = err.Error()
				return nil
			}
			defer t.Close()
			resp, err := t.Do(gctx, http.MethodGet, "/status", nil, nil)
			if err != nil {
				out[i].Error = err.Error()
				return nil
			}
			defer resp.Body.Close()
			raw, err := io.ReadAll(resp.Body)
			if err != nil {
				out[i].Error = err.Error()
				return nil
			}
			var st struct {
				State   string `json:"state"`
				Backend string `json:"backend"`
				TLS     *struct {
					Libraries []string `json:"libraries"`
					Error     string   `json:"error"`
				} `json:"tls"`
				Error       string            `json:"error"`
				Packets     uint64            `json:"packets"`
				KernelDrops uint64            `json:"kernelDrops"`
				Entries     map[string]uint64 `json:"entries"`
				FIFO        struct {
					Bytes    int64     `json:"bytes"`
					Capacity int64     `json:"capacity"`
					Oldest   time.Time `json:"oldest"`
					Newest   time.Time `json:"newest"`
				} `json:"fifo"`
			}
			json.Unmarshal(raw, &st)
			msg := json.RawMessage(raw)
			out[i].Agent = &msg
			out[i].Error = st.Error
			out[i].Entries = st.Entries
			out[i].Summary = SnifferSummary{State: st.State, Backend: st.Backend, Packets: st.Packets, KernelDrops: st.KernelDrops,
				FIFOBytes: st.FIFO.Bytes, FIFOCap: st.FIFO.Capacity, Oldest: st.FIFO.Oldest, Newest: st.FIFO.Newest}
			if st.TLS != nil {
				switch {
				case len(st.TLS.Libraries) > 0:
					out[i].Summary.Backend += "+tls"
				case st.TLS.Error != "" && out[i].Error == "":
					out[i].Error = "TLS: " + st.TLS.Error
				}
			}
			return nil
		})
	}
	g.Wait()
	return out, &spec, nil
}

// Control sends POST /stop or /start?filter= to every sniffer of a capture.
func Control(ctx context.Context, c Clients, ns, name, action string, filter *string, warn Progress) error {
	pods, err := Sniffers(ctx, c, ns, name)
	if err != nil {
		return err
	}
	return fanOut(ctx, c, pods, warn, func(ctx context.Context, t *Tunnel) error {
		q := map[string][]string{}
		if filter != nil {
			q["filter"] = []string{*filter}
		}
		resp, err := t.Do(ctx, http.MethodPost, "/"+action, q, nil)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
}

// CaptureInfo summarises one capture for list.
type CaptureInfo struct {
	Name      string    `json:"name"`
	Namespace string    `json:"namespace"`
	Workload  string    `json:"workload"`
	Sniffers  int       `json:"sniffers"`
	Ready     int       `json:"ready"`
	Nodes     []string  `json:"nodes"`
	Created   time.Time `json:"created"`
	TTL       string    `json:"ttl"`
	Filter    string    `json:"filter,omitempty"`
}

// List returns the captures in ns ("" for all namespaces), from the sniffer pods'
// labels and annotations.
func List(ctx context.Context, c Clients, ns string) ([]CaptureInfo, error) {
	sel := labels.Set{LabelManagedBy: ManagedByValue}
	list, err := c.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, fmt.Errorf("listing sniffers: %w", err)
	}
	by := map[string]*CaptureInfo{}
	var order []string
	for i := range list.Items {
		p := &list.Items[i]
		key := p.Namespace + "/" + p.Labels[LabelCapture]
		ci, ok := by[key]
		if !ok {
			var spec Spec
			json.Unmarshal([]byte(p.Annotations[AnnotationSpec]), &spec)
			workload := spec.Workload
			if workload == "" {
				workload = "-l " + spec.Selector
			}
			ci = &CaptureInfo{Name: p.Labels[LabelCapture], Namespace: p.Namespace, Workload: spec.TargetNamespace + "/" + workload,
				Created: spec.Created, TTL: spec.TTL.String(), Filter: spec.Filter}
			by[key] = ci
			order = append(order, key)
		}
		ci.Sniffers++
		if podReady(p) {
			ci.Ready++
		}
		found := false
		for _, n := range ci.Nodes {
			found = found || n == p.Spec.NodeName
		}
		if !found {
			ci.Nodes = append(ci.Nodes, p.Spec.NodeName)
		}
	}
	sort.Strings(order)
	out := make([]CaptureInfo, 0, len(order))
	for _, k := range order {
		out = append(out, *by[k])
	}
	return out, nil
}
