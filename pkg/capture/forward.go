package capture

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/streaming/pkg/httpstream"
)

// Tunnel is a port-forward to one sniffer's API on 127.0.0.1:APIPort of its pod.
// The API is never exposed otherwise: the user's RBAC (pods/portforward) guards it.
type Tunnel struct {
	Pod    *corev1.Pod
	Base   string // http://127.0.0.1:<local port>
	Client *http.Client
	stop   chan struct{}
	done   chan struct{}
}

// Close stops the port-forward.
func (t *Tunnel) Close() {
	close(t.stop)
	<-t.done
}

// Open starts a port-forward to a sniffer pod and waits until it is ready.
func Open(ctx context.Context, c Clients, pod *corev1.Pod) (*Tunnel, error) {
	req := c.Kube.CoreV1().RESTClient().Post().Resource("pods").Namespace(pod.Namespace).Name(pod.Name).SubResource("portforward")
	u := req.URL()
	transport, upgrader, err := spdy.RoundTripperFor(c.RESTConfig)
	if err != nil {
		return nil, fmt.Errorf("port-forwarding to %s: %w", pod.Name, err)
	}
	var dialer httpstream.Dialer = spdy.NewDialerForStreaming(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	// Prefer websockets (Kubernetes 1.31+), fall back to SPDY as kubectl does.
	if ws, err := portforward.NewSPDYOverWebsocketDialerForStreaming(u, c.RESTConfig); err == nil {
		dialer = portforward.NewFallbackDialerForStreaming(ws, dialer, func(err error) bool {
			return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
		})
	}
	stop, ready := make(chan struct{}), make(chan struct{})
	fw, err := portforward.NewOnAddressesForStreaming(dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(APIPort)}, stop, ready, io.Discard, io.Discard)
	if err != nil {
		return nil, fmt.Errorf("port-forwarding to %s: %w", pod.Name, err)
	}
	t := &Tunnel{Pod: pod, stop: stop, done: make(chan struct{})}
	errc := make(chan error, 1)
	go func() {
		errc <- fw.ForwardPorts()
		close(t.done)
	}()
	select {
	case <-ready:
	case err := <-errc:
		return nil, fmt.Errorf("port-forwarding to %s: %w", pod.Name, err)
	case <-ctx.Done():
		close(stop)
		<-t.done
		return nil, ctx.Err()
	}
	ports, err := fw.GetPorts()
	if err != nil || len(ports) == 0 {
		t.Close()
		return nil, fmt.Errorf("port-forwarding to %s: no local port: %v", pod.Name, err)
	}
	t.Base = fmt.Sprintf("http://127.0.0.1:%d", ports[0].Local)
	t.Client = &http.Client{Transport: &http.Transport{DisableCompression: true, ResponseHeaderTimeout: 5 * time.Minute}}
	return t, nil
}

// Do sends a request to the sniffer and returns the response; non-2xx answers
// become errors carrying the sniffer's message.
func (t *Tunnel) Do(ctx context.Context, method, path string, q url.Values, body io.Reader) (*http.Response, error) {
	u := t.Base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := t.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("sniffer %s: %w", t.Pod.Name, err)
	}
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		return nil, &APIError{Pod: t.Pod.Name, Code: resp.StatusCode, Msg: string(b)}
	}
	return resp, nil
}

// APIError is a sniffer's refusal (400 for a bad query: the message is the same
// the CLI would print).
type APIError struct {
	Pod  string
	Code int
	Msg  string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("sniffer %s: %s", e.Pod, trimNL(e.Msg))
}

func trimNL(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}
