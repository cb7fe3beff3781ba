// Package cli is kubectl-shark's command tree: cobra commands, flags and user-facing
// text. Each command has an Options struct with Complete, Validate and Run(ctx); the
// work itself lives in pkg/… packages, which never import cobra.
package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// NewCmdShark returns the root command. The caller executes it and maps a returned
// error to the exit status.
func NewCmdShark(streams genericiooptions.IOStreams) *cobra.Command {
	flags := genericclioptions.NewConfigFlags(true)
	cmd := &cobra.Command{
		Use:   "kubectl-shark",
		Short: "Network forensics for Kubernetes workloads: capture, dissect, filter, export",
		Long: `kubectl shark captures the traffic of a workload's pods from inside their network
namespaces, dissects HTTP, DNS, Redis and TLS handshakes as it arrives, answers questions written in
KFL (a CEL filter language) and exports exactly the matching streams as PCAPNG for
Wireshark. The same commands work offline on capture files with -r FILE.`,
		Example: `  # Which requests failed in a capture file?
  kubectl shark entries -r traffic.pcap --kfl 'http && status_code >= 500'

  # Keep only the DNS and failing HTTP streams, for Wireshark
  kubectl shark export -r traffic.pcap --kfl 'dns || status_code >= 500' -w incident.pcapng

  # Every KFL variable
  kubectl shark fields`,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl shark"},
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	flags.AddFlags(cmd.PersistentFlags())
	cmd.SetIn(streams.In)
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.ErrOut)

	cmd.AddCommand(
		NewCmdCapture(flags, streams),
		NewCmdList(flags, streams),
		NewCmdGet(flags, streams),
		NewCmdEntries(flags, streams),
		NewCmdExport(flags, streams),
		NewCmdStop(flags, streams),
		NewCmdStart(flags, streams),
		NewCmdDelete(flags, streams),
		NewCmdFields(streams),
		NewCmdVersion(streams),
		NewCmdCompletion(streams),
	)
	return cmd
}

// Execute runs the command tree with args and returns the process exit code.
func Execute(ctx context.Context, args []string, streams genericiooptions.IOStreams) int {
	cmd := NewCmdShark(streams)
	cmd.SetArgs(args)
	if err := cmd.ExecuteContext(ctx); err != nil {
		printError(streams.ErrOut, err)
		return exitCode(err)
	}
	return 0
}

// usageError marks errors caused by how the command was called; they print usage.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

func usageErrorf(cmd *cobra.Command, format string, a ...any) error {
	return usageError{fmt.Errorf("%s\nSee '%s -h' for help and examples", fmt.Sprintf(format, a...), cmd.CommandPath())}
}

func printError(w io.Writer, err error) {
	fmt.Fprintf(w, "error: %v\n", err)
}

func exitCode(err error) int {
	if _, ok := err.(usageError); ok {
		return 2
	}
	return 1
}
