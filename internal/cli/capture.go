package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-shark/kubectl-shark/internal/version"
	"github.com/kubectl-shark/kubectl-shark/pkg/capture"
	"github.com/kubectl-shark/kubectl-shark/pkg/kfl"
)

// clients builds API clients from the kubectl flags.
func clients(flags *genericclioptions.ConfigFlags) (capture.Clients, string, error) {
	cfg, err := flags.ToRESTConfig()
	if err != nil {
		return capture.Clients{}, "", fmt.Errorf("loading the kubeconfig: %w", err)
	}
	kc, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return capture.Clients{}, "", err
	}
	ns, _, err := flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return capture.Clients{}, "", err
	}
	return capture.Clients{Kube: kc, RESTConfig: cfg}, ns, nil
}

// progressTo returns a progress printer on stderr, silent with quiet.
func progressTo(streams genericiooptions.IOStreams, quiet bool) capture.Progress {
	if quiet {
		return func(string, ...any) {}
	}
	return func(format string, args ...any) { fmt.Fprintf(streams.ErrOut, format+"\n", args...) }
}

// CaptureOptions are the options of `kubectl shark capture`.
type CaptureOptions struct {
	flags   *genericclioptions.ConfigFlags
	streams genericiooptions.IOStreams

	Selector         string
	Name             string
	Container        string
	Filter           string
	BufferSize       string
	TTL              time.Duration
	SnifferNamespace string
	Image            string
	PullSecret       string
	Privileged       bool
	Backend          string
	TLS              bool
	TLSLibs          []string
	Follow           bool
	Keep             bool
	Quiet            bool
	RuntimeSocket    string
	KFL              string

	kind, workload string
	namespace      string
	c              capture.Clients
	filter         *kfl.Filter
}

// NewCmdCapture starts sniffers next to a workload's pods.
func NewCmdCapture(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &CaptureOptions{flags: flags, streams: streams}
	cmd := &cobra.Command{
		Use:   "capture (TYPE/NAME | TYPE NAME | -l SELECTOR) [flags]",
		Short: "Start capturing the traffic of a workload's pods",
		Long: `Start one short-lived sniffer pod next to each pod of a workload. Each sniffer enters its
target's network namespace, captures every packet into a bounded FIFO on the node and
dissects HTTP, DNS, Redis and TLS handshakes as it arrives. The command waits until every sniffer is
capturing, then prints the capture's name. Query it with 'entries' and 'export'; end
it with 'delete' (or let its --ttl run out).

TYPE is pod, deployment, replicaset, statefulset, daemonset or job (kubectl's short
names work). With --follow the command stays, streams entries, and deletes the sniffers
on Ctrl-C (unless --keep); if it is killed, the sniffers stop by themselves within a
minute.`,
		Example: `  # Capture every pod of a deployment for an hour (the default TTL)
  kubectl shark capture deploy/checkout -n shop

  # Only HTTP traffic on port 8080, 1 GiB per sniffer, named for later use
  kubectl shark capture deploy/checkout --name incident-42 -f 'tcp port 8080' --buffer-size 1Gi

  # Capture with eBPF (TC) and recover HTTPS plaintext from OpenSSL, without keys
  kubectl shark capture deploy/checkout --backend auto --tls

  # Watch failing requests live; Ctrl-C removes the sniffers
  kubectl shark capture -l app=checkout --follow --kfl 'http && status_code >= 500'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(cmd, args); err != nil {
				return err
			}
			if err := o.Validate(cmd); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
		ValidArgsFunction: completeWorkloads(flags),
	}
	f := cmd.Flags()
	f.StringVarP(&o.Selector, "selector", "l", "", "Capture the pods matching this label selector")
	f.StringVar(&o.Name, "name", "", "Name of the capture (default: the workload's name and a random suffix)")
	f.StringVarP(&o.Container, "container", "c", "", "Container whose network namespace to enter (default: the pod's default container)")
	f.StringVarP(&o.Filter, "filter", "f", "", "Capture only packets matching this tcpdump filter")
	f.StringVar(&o.BufferSize, "buffer-size", "256Mi", "Bytes each sniffer keeps (oldest dropped first)")
	f.DurationVar(&o.TTL, "ttl", time.Hour, "Lifetime of the sniffers (activeDeadlineSeconds)")
	f.StringVar(&o.SnifferNamespace, "sniffer-namespace", "", "Namespace for the sniffer pods (default: the target's)")
	f.StringVar(&o.Image, "image", version.SnifferImage(), "Sniffer image")
	f.StringVar(&o.PullSecret, "pull-secret", "", "Image pull secret for the sniffer image")
	f.BoolVar(&o.Privileged, "privileged", false, "Run sniffers privileged instead of with the minimal capabilities")
	f.StringVar(&o.Backend, "backend", capture.BackendAFPacket, "Capture backend: af_packet, ebpf (TC programs; adds CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN), or auto (eBPF where it loads, else af_packet)")
	f.BoolVar(&o.TLS, "tls", false, "Also recover TLS plaintext from OpenSSL (libssl) with eBPF uprobes; entries get tls == true and capture_source == \"ebpf_tls\"")
	f.StringArrayVar(&o.TLSLibs, "tls-lib", nil, "With --tls: libssl file to probe, as a path in the target container (repeatable; default: found from the target's processes and library paths)")
	cmd.RegisterFlagCompletionFunc("backend", cobra.FixedCompletions(capture.Backends, cobra.ShellCompDirectiveNoFileComp))
	f.BoolVar(&o.Follow, "follow", false, "Stay, stream entries, and delete the sniffers on Ctrl-C")
	f.BoolVar(&o.Keep, "keep", false, "With --follow: keep the sniffers when the command ends")
	f.StringVar(&o.KFL, "kfl", "", "With --follow: stream only entries matching this KFL expression")
	f.StringVar(&o.RuntimeSocket, "runtime-socket", "/run/containerd/containerd.sock", "containerd's socket on the nodes")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "Print no progress on stderr")
	return cmd
}

// Complete resolves the workload arguments and the namespaces.
func (o *CaptureOptions) Complete(cmd *cobra.Command, args []string) error {
	var err error
	o.c, o.namespace, err = clients(o.flags)
	if err != nil {
		return err
	}
	switch {
	case o.Selector != "" && len(args) > 0:
		return usageErrorf(cmd, "give either TYPE/NAME or -l SELECTOR, not both")
	case o.Selector != "":
	case len(args) == 0:
		return usageErrorf(cmd, "what to capture? give TYPE/NAME (e.g. deploy/web) or -l SELECTOR")
	default:
		if o.kind, o.workload, err = capture.ParseWorkload(args); err != nil {
			return usageErrorf(cmd, "%v", err)
		}
	}
	if o.SnifferNamespace == "" {
		o.SnifferNamespace = o.namespace
	}
	if o.Name == "" {
		base := o.workload
		if base == "" {
			base = "capture"
		}
		o.Name = strings.ToLower(base) + "-" + capture.RandomSuffix()[:4]
	}
	return nil
}

// Validate checks the flags.
func (o *CaptureOptions) Validate(cmd *cobra.Command) error {
	if _, err := resource.ParseQuantity(o.BufferSize); err != nil {
		return usageErrorf(cmd, "--buffer-size %q is not a size: use a quantity such as 256Mi or 2Gi", o.BufferSize)
	}
	if o.TTL < time.Minute {
		return usageErrorf(cmd, "--ttl %s is too short: give at least 1m", o.TTL)
	}
	if o.Keep && !o.Follow {
		return usageErrorf(cmd, "--keep only makes sense with --follow (detached captures always keep running until --ttl)")
	}
	if o.KFL != "" {
		if !o.Follow {
			return usageErrorf(cmd, "--kfl only makes sense with --follow; use 'kubectl shark entries NAME --kfl ...' later")
		}
		f, err := kfl.Compile(o.KFL)
		if err != nil {
			return err
		}
		o.filter = f
	}
	if o.Filter != "" {
		if err := checkBPF(o.Filter); err != nil {
			return err
		}
	}
	if !slices.Contains(capture.Backends, o.Backend) {
		return usageErrorf(cmd, "--backend %q: use one of %s", o.Backend, strings.Join(capture.Backends, ", "))
	}
	if len(o.TLSLibs) > 0 && !o.TLS {
		return usageErrorf(cmd, "--tls-lib only makes sense with --tls")
	}
	if len(o.Name) > 40 || len(validation.IsDNS1123Label(o.Name)) > 0 {
		return usageErrorf(cmd, "--name %q: use at most 40 lower-case letters, digits and '-'", o.Name)
	}
	return nil
}

// Run creates the sniffers and, with --follow, streams entries until Ctrl-C.
func (o *CaptureOptions) Run(ctx context.Context) error {
	progress := progressTo(o.streams, o.Quiet)
	sel := o.Selector
	var single *corev1.Pod
	if o.kind != "" {
		s, pod, err := capture.WorkloadSelector(ctx, o.c.Kube, o.namespace, o.kind, o.workload)
		if err != nil {
			return err
		}
		single = pod
		if s != nil && pod == nil {
			sel = s.String()
		}
	}
	var targets []capture.Target
	var skipped []string
	if single != nil {
		t, why := capture.TargetOf(single, o.Container)
		if why != "" {
			return fmt.Errorf("pod %s cannot be captured: %s", single.Name, why)
		}
		targets = []capture.Target{t}
		sel = "" // a single pod: no other pod ever joins this capture
	} else {
		s, err := labels.Parse(sel)
		if err != nil {
			return fmt.Errorf("bad selector %q: %w", sel, err)
		}
		targets, skipped, err = capture.ResolveTargets(ctx, o.c.Kube, o.namespace, s, o.Container)
		if err != nil {
			return err
		}
	}
	for _, s := range skipped {
		progress("skipping %s", s)
	}
	if len(targets) == 0 {
		what := o.kind + "/" + o.workload
		if o.kind == "" {
			what = "selector " + o.Selector
		}
		return fmt.Errorf("%w for %s in namespace %q", capture.ErrNoTargets, what, o.namespace)
	}
	spec := capture.Spec{
		Name: o.Name, Namespace: o.SnifferNamespace, Selector: sel, TargetNamespace: o.namespace, Container: o.Container,
		Image: o.Image, PullSecret: o.PullSecret, Privileged: o.Privileged, Filter: o.Filter, BufferSize: o.BufferSize,
		Backend: o.Backend, TLS: o.TLS, TLSLibs: o.TLSLibs,
		TTL: o.TTL, RuntimeSocket: o.RuntimeSocket, Created: time.Now().UTC().Truncate(time.Second),
	}
	if o.kind != "" {
		spec.Workload = o.kind + "/" + o.workload
	}
	if o.Follow && !o.Keep {
		spec.Heartbeat = time.Minute
	}
	progress("starting %d sniffer(s) for capture %s", len(targets), o.Name)

	// Ctrl-C while starting still cleans up.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	pods, err := capture.Create(ctx, o.c, spec, targets, nil, progress)
	if err != nil {
		return err
	}
	capture.StoreContext(ctx, o.c, pods, capture.Identities(ctx, o.c, progress), progress)

	tw := tabwriter.NewWriter(o.streams.Out, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "CAPTURE\tTARGET\tSNIFFER\tNODE")
	for _, p := range pods {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", o.Name, p.Annotations[capture.AnnotationTarget], p.Name, p.Spec.NodeName)
	}
	tw.Flush()
	if !o.Follow {
		progress("capturing. Next:\n  kubectl shark entries %s -n %s --kfl 'http && status_code >= 500'\n  kubectl shark export %s -n %s -w capture.pcapng\n  kubectl shark delete %s -n %s",
			o.Name, o.SnifferNamespace, o.Name, o.SnifferNamespace, o.Name, o.SnifferNamespace)
		return nil
	}
	return o.follow(ctx, spec, progress)
}

// follow streams entries, keeps the sniffers alive, gives new pods sniffers, and
// deletes everything when ctx ends (unless --keep).
func (o *CaptureOptions) follow(ctx context.Context, spec capture.Spec, progress capture.Progress) error {
	go capture.Heartbeat(ctx, o.c, spec.Namespace, spec.Name, 15*time.Second)
	restart := make(chan struct{}, 1)
	go capture.WatchTargets(ctx, o.c, spec, func([]*corev1.Pod) {
		select {
		case restart <- struct{}{}:
		default:
		}
	}, progress)
	var err error
	since := time.Now().UTC()
	for ctx.Err() == nil {
		// Streams restart when new sniffers join, so they are followed too.
		sctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			done <- capture.Entries(sctx, o.c, spec.Namespace, spec.Name,
				capture.Query{KFL: o.KFL, Follow: true, Since: since.Format(time.RFC3339Nano)}, o.streams.Out, progress)
		}()
		select {
		case <-restart:
			since = time.Now().UTC()
			cancel()
			<-done
			continue
		case err = <-done:
			cancel()
		}
		if err != nil && ctx.Err() == nil {
			break
		}
	}
	if o.Keep {
		progress("keeping capture %s; delete it with 'kubectl shark delete %s -n %s'", spec.Name, spec.Name, spec.Namespace)
		return err
	}
	del, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, derr := capture.Delete(del, o.c, spec.Namespace, spec.Name, progress)
	if derr != nil {
		return errors.Join(err, derr)
	}
	progress("deleted %d sniffer(s) of capture %s", n, spec.Name)
	return err
}
