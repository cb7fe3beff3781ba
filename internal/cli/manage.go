package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-shark/kubectl-shark/pkg/capture"
	"github.com/kubectl-shark/kubectl-shark/pkg/export"
)

func printStructured(streams genericiooptions.IOStreams, output string, v any) error {
	switch output {
	case "json":
		enc := json.NewEncoder(streams.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case "yaml":
		b, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = streams.Out.Write(b)
		return err
	}
	return fmt.Errorf("unknown output format %q", output)
}

// NewCmdList lists captures.
func NewCmdList(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	var output string
	var all bool
	cmd := &cobra.Command{
		Use:   "list [-n NS | -A] [-o wide|json|yaml]",
		Short: "List captures: their workload, sniffers, nodes and age",
		Example: `  # Captures in the current namespace
  kubectl shark list

  # Everywhere, with the filter and TTL
  kubectl shark list -A -o wide`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch output {
			case "", "wide", "json", "yaml":
			default:
				return usageErrorf(cmd, "unknown output format %q: use wide, json or yaml", output)
			}
			c, ns, err := clients(flags)
			if err != nil {
				return err
			}
			if all {
				ns = ""
			}
			caps, err := capture.List(cmd.Context(), c, ns)
			if err != nil {
				return err
			}
			if output == "json" || output == "yaml" {
				return printStructured(streams, output, caps)
			}
			if len(caps) == 0 {
				fmt.Fprintln(streams.ErrOut, "No captures found.")
				return nil
			}
			tw := tabwriter.NewWriter(streams.Out, 0, 8, 2, ' ', 0)
			hdr := "NAME\tWORKLOAD\tSNIFFERS\tNODES\tAGE"
			if all {
				hdr = "NAMESPACE\t" + hdr
			}
			if output == "wide" {
				hdr += "\tTTL\tFILTER"
			}
			fmt.Fprintln(tw, hdr)
			for _, ci := range caps {
				row := fmt.Sprintf("%s\t%s\t%d/%d\t%s\t%s", ci.Name, ci.Workload, ci.Ready, ci.Sniffers, strings.Join(ci.Nodes, ","), age(ci.Created))
				if all {
					row = ci.Namespace + "\t" + row
				}
				if output == "wide" {
					row += "\t" + ci.TTL + "\t" + ci.Filter
				}
				fmt.Fprintln(tw, row)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Output format: wide, json or yaml")
	cmd.Flags().BoolVarP(&all, "all-namespaces", "A", false, "List captures in every namespace")
	return cmd
}

func age(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := time.Since(t).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
}

// NewCmdGet shows one capture's sniffers and what they hold.
func NewCmdGet(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "get NAME [-o json|yaml]",
		Short: "Show a capture's sniffers: state, packets, drops, FIFO fill and the time window held",
		Example: `  kubectl shark get checkout-x7k2
  kubectl shark get checkout-x7k2 -o json | jq '.sniffers[].summary'`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeCaptures(flags),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ns, err := clients(flags)
			if err != nil {
				return err
			}
			sts, spec, err := capture.Statuses(cmd.Context(), c, ns, args[0])
			if err != nil {
				return err
			}
			switch output {
			case "json", "yaml":
				return printStructured(streams, output, map[string]any{"capture": spec, "sniffers": sts})
			case "":
			default:
				return usageErrorf(cmd, "unknown output format %q: use json or yaml", output)
			}
			workload := spec.Workload
			if workload == "" {
				workload = "-l " + spec.Selector
			}
			backend := spec.Backend
			if backend == "" {
				backend = capture.BackendAFPacket
			}
			if spec.TLS {
				backend += ", TLS plaintext from OpenSSL uprobes"
			}
			fmt.Fprintf(streams.Out, "Capture:   %s (namespace %s)\nWorkload:  %s/%s\nFilter:    %s\nBackend:   %s\nBuffer:    %s per sniffer\nTTL:       %s (created %s)\n\n",
				spec.Name, spec.Namespace, spec.TargetNamespace, workload, orDash(spec.Filter), backend, spec.BufferSize, spec.TTL, spec.Created.Format(time.RFC3339))
			tw := tabwriter.NewWriter(streams.Out, 0, 8, 2, ' ', 0)
			fmt.Fprintln(tw, "SNIFFER\tTARGET\tNODE\tSTATE\tBACKEND\tPACKETS\tDROPS\tFIFO\tWINDOW\tENTRIES")
			for _, s := range sts {
				fifo, window := "-", "-"
				if s.Summary.FIFOCap > 0 {
					fifo = fmt.Sprintf("%s/%s (%d%%)", export.FormatBytes(s.Summary.FIFOBytes), export.FormatBytes(s.Summary.FIFOCap), s.Summary.FIFOBytes*100/s.Summary.FIFOCap)
				}
				if !s.Summary.Oldest.IsZero() {
					window = fmt.Sprintf("%s – %s", s.Summary.Oldest.Local().Format("15:04:05"), s.Summary.Newest.Local().Format("15:04:05"))
				}
				var ents []string
				for p, n := range s.Entries {
					ents = append(ents, fmt.Sprintf("%s:%d", p, n))
				}
				state := orDash(s.Summary.State)
				if s.Error != "" {
					state += " (" + s.Error + ")"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n", s.Pod, s.Target, s.Node, state, orDash(s.Summary.Backend), s.Summary.Packets, s.Summary.KernelDrops, fifo, window, orDash(strings.Join(sortedStrings(ents), " ")))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Output format: json or yaml")
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func sortedStrings(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

// NewCmdStop pauses a capture.
func NewCmdStop(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:               "stop NAME",
		Short:             "Pause a capture; what it holds stays queryable",
		Example:           "  kubectl shark stop checkout-x7k2",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeCaptures(flags),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ns, err := clients(flags)
			if err != nil {
				return err
			}
			if err := capture.Control(cmd.Context(), c, ns, args[0], "stop", nil, progressTo(streams, false)); err != nil {
				return err
			}
			fmt.Fprintf(streams.ErrOut, "capture %s stopped\n", args[0])
			return nil
		},
	}
}

// NewCmdStart resumes a capture, optionally with a new filter.
func NewCmdStart(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	var filter string
	cmd := &cobra.Command{
		Use:   "start NAME [-f BPF]",
		Short: "Resume a stopped capture, optionally with a new tcpdump filter",
		Example: `  kubectl shark start checkout-x7k2
  kubectl shark start checkout-x7k2 -f 'tcp port 6379'`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeCaptures(flags),
		RunE: func(cmd *cobra.Command, args []string) error {
			var f *string
			if cmd.Flags().Changed("filter") {
				if filter != "" {
					if err := checkBPF(filter); err != nil {
						return err
					}
				}
				f = &filter
			}
			c, ns, err := clients(flags)
			if err != nil {
				return err
			}
			if err := capture.Control(cmd.Context(), c, ns, args[0], "start", f, progressTo(streams, false)); err != nil {
				return err
			}
			fmt.Fprintf(streams.ErrOut, "capture %s capturing\n", args[0])
			return nil
		},
	}
	cmd.Flags().StringVarP(&filter, "filter", "f", "", "tcpdump filter expression (\"\" captures everything)")
	return cmd
}

// NewCmdDelete deletes captures.
func NewCmdDelete(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "delete (NAME | --all)",
		Short: "Delete a capture's sniffers (and what they hold)",
		Example: `  kubectl shark delete checkout-x7k2
  # every capture in the namespace
  kubectl shark delete --all`,
		ValidArgsFunction: completeCaptures(flags),
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) == 1) || len(args) > 1 {
				return usageErrorf(cmd, "give one capture NAME, or --all")
			}
			c, ns, err := clients(flags)
			if err != nil {
				return err
			}
			name := ""
			if !all {
				name = args[0]
				if _, err := capture.Sniffers(cmd.Context(), c, ns, name); err != nil {
					return err
				}
			}
			n, err := capture.Delete(cmd.Context(), c, ns, name, progressTo(streams, false))
			if err != nil {
				return err
			}
			fmt.Fprintf(streams.ErrOut, "deleted %d sniffer(s)\n", n)
			return nil
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "Delete every capture in the namespace")
	return cmd
}

// completeCaptures completes capture names.
func completeCaptures(flags *genericclioptions.ConfigFlags) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		c, ns, err := clients(flags)
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		caps, err := capture.List(cmd.Context(), c, ns)
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		var out []string
		for _, ci := range caps {
			out = append(out, ci.Name)
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeWorkloads completes TYPE/NAME for capture.
func completeWorkloads(flags *genericclioptions.ConfigFlags) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		typ, _, ok := strings.Cut(toComplete, "/")
		if !ok {
			return []string{"pod/", "deployment/", "replicaset/", "statefulset/", "daemonset/", "job/"}, cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveNoFileComp
		}
		c, ns, err := clients(flags)
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		ctx := cmd.Context()
		lo := metav1.ListOptions{}
		var list runtime.Object
		switch kind, _, _ := capture.ParseWorkload([]string{typ + "/x"}); kind {
		case "pod":
			lo.LabelSelector = "!" + capture.LabelManagedBy // not our own sniffers
			list, err = c.Kube.CoreV1().Pods(ns).List(ctx, lo)
		case "deployment":
			list, err = c.Kube.AppsV1().Deployments(ns).List(ctx, lo)
		case "replicaset":
			list, err = c.Kube.AppsV1().ReplicaSets(ns).List(ctx, lo)
		case "statefulset":
			list, err = c.Kube.AppsV1().StatefulSets(ns).List(ctx, lo)
		case "daemonset":
			list, err = c.Kube.AppsV1().DaemonSets(ns).List(ctx, lo)
		case "job":
			list, err = c.Kube.BatchV1().Jobs(ns).List(ctx, lo)
		default:
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		items, _ := meta.ExtractList(list)
		var names []string
		for _, it := range items {
			if m, err := meta.Accessor(it); err == nil {
				names = append(names, m.GetName())
			}
		}
		out := make([]string, 0, len(names))
		for _, n := range names {
			out = append(out, typ+"/"+n)
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
