package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-shark/kubectl-shark/pkg/capture"
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect/protocols"
	"github.com/kubectl-shark/kubectl-shark/pkg/kfl"
	"github.com/kubectl-shark/kubectl-shark/pkg/offline"
)

// EntriesOptions are the options of `kubectl shark entries`.
type EntriesOptions struct {
	flags   *genericclioptions.ConfigFlags
	streams genericiooptions.IOStreams

	File   string
	KFL    string
	Output string
	Quiet  bool
	Since  string
	Follow bool
	Limit  int

	name   string
	filter *kfl.Filter
}

// NewCmdEntries lists dissected entries that match a KFL filter.
func NewCmdEntries(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &EntriesOptions{flags: flags, streams: streams}
	cmd := &cobra.Command{
		Use:   "entries (NAME | -r FILE) [--kfl EXPR] [-o table|wide|json]",
		Short: "List dissected requests, DNS exchanges, Redis commands, TLS handshakes and connections",
		Long: `List the entries dissected from a capture: one per HTTP request/response pair, DNS
exchange, Redis command/reply, TLS handshake (ClientHello/ServerHello: SNI, version,
cipher suite), and one L4 record per TCP connection or UDP flow.
--kfl keeps the entries for which a KFL expression is true (see 'kubectl shark fields').
-o json prints one JSON object per line whose keys are KFL variable names.`,
		Example: `  # Failing HTTP requests in a capture file
  kubectl shark entries -r traffic.pcap --kfl 'http && status_code >= 500'

  # DNS lookups that did not succeed, as JSON lines
  kubectl shark entries -r traffic.pcapng --kfl 'dns && status_code != 0' -o json

  # Slow Redis commands (over 10 ms)
  kubectl shark entries -r redis.pcap --kfl 'redis && elapsed_time > 10000'

  # TLS handshakes, and those to one server name
  kubectl shark entries -r https.pcapng --kfl 'tls && tls_summary == "ClientHello"'
  kubectl shark entries -r https.pcapng --kfl 'tls && tls_info.contains("SNI=api.example.com")'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(cmd, args); err != nil {
				return err
			}
			if err := o.Validate(cmd); err != nil {
				return err
			}
			return o.Run(cmd)
		},
	}
	cmd.Flags().StringVarP(&o.File, "read-file", "r", "", "Read packets from a pcap or pcapng file ('-' for standard input) instead of a capture")
	cmd.Flags().StringVar(&o.KFL, "kfl", "", "KFL filter expression (CEL), e.g. 'http && status_code >= 500'")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "table", "Output format: table, wide or json")
	cmd.Flags().BoolVarP(&o.Quiet, "quiet", "q", false, "Print no summary or warnings on stderr")
	cmd.Flags().StringVar(&o.Since, "since", "", "Only entries newer than this duration (5m) or RFC 3339 time")
	cmd.Flags().BoolVar(&o.Follow, "follow", false, "Keep streaming new entries (captures only)")
	cmd.Flags().IntVar(&o.Limit, "limit", 0, "Print at most this many entries (0: all)")
	cmd.ValidArgsFunction = completeCaptures(flags)
	return cmd
}

// Complete fills derived fields.
func (o *EntriesOptions) Complete(cmd *cobra.Command, args []string) (err error) {
	o.name, err = captureOrFile(cmd, args, o.File)
	return err
}

// captureOrFile checks the (NAME | -r FILE) arguments of entries and export and
// returns the capture name ("" with -r).
func captureOrFile(cmd *cobra.Command, args []string, file string) (string, error) {
	switch {
	case len(args) > 1:
		return "", usageErrorf(cmd, "expected at most one capture NAME, got %d arguments", len(args))
	case len(args) == 1 && file != "":
		return "", usageErrorf(cmd, "give either a capture NAME or -r FILE, not both")
	case len(args) == 1:
		return args[0], nil
	case file == "":
		return "", usageErrorf(cmd, "no input: give a capture NAME (see 'kubectl shark list') or -r FILE (a pcap or pcapng file)")
	}
	return "", nil
}

// Validate checks the flags; a bad KFL expression is shown with a caret.
func (o *EntriesOptions) Validate(cmd *cobra.Command) error {
	if o.File != "" && (o.Follow || o.Since != "") {
		return usageErrorf(cmd, "--follow and --since apply to captures, not to -r FILE")
	}
	switch o.Output {
	case "table", "wide", "json":
	default:
		return usageErrorf(cmd, "unknown output format %q: use table, wide or json", o.Output)
	}
	f, err := kfl.Compile(o.KFL)
	if err != nil {
		return err
	}
	o.filter = f
	return nil
}

// Run dissects the input and prints the matching entries.
func (o *EntriesOptions) Run(cmd *cobra.Command) error {
	if o.name != "" {
		return o.runCapture(cmd)
	}
	entries, res, err := offline.Entries(cmd.Context(), offline.Input{Path: o.File, Stdin: o.streams.In}, protocols.Config(), o.filter)
	w := bufio.NewWriterSize(o.streams.Out, 64<<10)
	werr := writeEntries(w, entries, o.Output)
	if ferr := w.Flush(); werr == nil {
		werr = ferr
	}
	if werr != nil && err == nil {
		err = werr
	}
	if !o.Quiet {
		fmt.Fprintf(o.streams.ErrOut, "%d of %d entries matched (%d packets, %d streams)\n", res.Matched, res.Entries, res.Packets, res.Streams)
		if res.EvalErrors > 0 {
			fmt.Fprintf(o.streams.ErrOut, "warning: the filter could not be evaluated on %d entries (counted as no match)\n", res.EvalErrors)
		}
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", o.File, err)
	}
	return nil
}

// runCapture asks the capture's sniffers (KFL evaluated there) and prints what they
// return, merged by timestamp (as it arrives with --follow).
func (o *EntriesOptions) runCapture(cmd *cobra.Command) error {
	c, ns, err := clients(o.flags)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	warn := progressTo(o.streams, o.Quiet)
	if _, err := capture.Reconcile(ctx, c, ns, o.name, warn); err != nil && errors.Is(err, capture.ErrNoCapture) {
		return err
	}
	out := entryWriter(o.streams.Out, o.Output)
	q := capture.Query{KFL: o.KFL, Since: o.Since, Follow: o.Follow, Limit: o.Limit}
	if o.Follow {
		go capture.Heartbeat(ctx, c, ns, o.name, 15*time.Second)
	}
	return capture.Entries(ctx, c, ns, o.name, q, out, warn)
}

// writeEntries prints entries as NDJSON, encoded by kfl.AppendJSON as the sniffers
// encode what they serve, and for the table outputs renders that NDJSON with the
// rowWriter of captures: a file and a capture show the same entries alike.
func writeEntries(out io.Writer, entries []*dissect.Entry, output string) error {
	out = entryWriter(out, output)
	var buf []byte
	rec := &kfl.Record{}
	for _, e := range entries {
		rec.Entry = e
		buf = kfl.AppendJSON(buf[:0], rec)
		buf = append(buf, '\n')
		if _, err := out.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

// entryWriter returns where to write NDJSON entries for an output format: out itself
// for json, else a rowWriter printing them as table rows to out.
func entryWriter(out io.Writer, output string) io.Writer {
	if output == "json" {
		return out
	}
	return &rowWriter{out: out, wide: output == "wide"}
}
