package cli

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-shark/kubectl-shark/internal/version"
	"github.com/kubectl-shark/kubectl-shark/pkg/capture"
	"github.com/kubectl-shark/kubectl-shark/pkg/dissect/protocols"
	"github.com/kubectl-shark/kubectl-shark/pkg/export"
	"github.com/kubectl-shark/kubectl-shark/pkg/kfl"
	"github.com/kubectl-shark/kubectl-shark/pkg/offline"
	"github.com/kubectl-shark/kubectl-shark/pkg/sniffer/wire"
)

// ExportOptions are the options of `kubectl shark export`.
type ExportOptions struct {
	flags   *genericclioptions.ConfigFlags
	streams genericiooptions.IOStreams

	File   string
	KFL    string
	BPF    string
	Format string
	Write  string
	Quiet  bool
	Force  bool
	Since  string
	Until  string

	name   string
	filter *kfl.Filter
}

// NewCmdExport writes the packets of the matching streams to a capture file.
func NewCmdExport(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ExportOptions{flags: flags, streams: streams}
	cmd := &cobra.Command{
		Use:   "export (NAME | -r FILE) [--kfl EXPR] [--bpf EXPR] [--format pcapng|pcap] -w FILE|-",
		Short: "Write every packet of the streams that hold a matching entry, as PCAPNG",
		Long: `Write every packet of each TCP connection or UDP flow that holds at least one entry
matching --kfl (every packet without --kfl), in timestamp order. --bpf takes a tcpdump
filter and restricts the packets written. The output is PCAPNG (the input's
interfaces are preserved), or classic PCAP with --format pcap. A summary goes to
stderr.`,
		Example: `  # The streams of every failing request, for Wireshark
  kubectl shark export -r traffic.pcap --kfl 'http && status_code >= 500' -w failures.pcapng

  # DNS streams only, and only their port 53 packets
  kubectl shark export -r traffic.pcap --kfl dns --bpf 'port 53' -w dns.pcapng

  # Straight into Wireshark
  kubectl shark export -r traffic.pcap --kfl redis -w - | wireshark -k -i -`,
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
	cmd.Flags().StringVar(&o.KFL, "kfl", "", "Export the streams holding an entry that matches this KFL expression")
	cmd.Flags().StringVar(&o.BPF, "bpf", "", "Write only packets matching this tcpdump filter expression")
	cmd.Flags().StringVar(&o.Format, "format", "pcapng", "Output format: pcapng or pcap")
	cmd.Flags().StringVarP(&o.Write, "write", "w", "", "Output file, or '-' for standard output")
	cmd.Flags().BoolVarP(&o.Quiet, "quiet", "q", false, "Print no summary on stderr")
	cmd.Flags().BoolVar(&o.Force, "force", false, "Write binary output to a terminal")
	cmd.Flags().StringVar(&o.Since, "since", "", "Only packets newer than this duration (5m) or RFC 3339 time (captures only)")
	cmd.Flags().StringVar(&o.Until, "until", "", "Only packets older than this RFC 3339 time or duration ago (captures only)")
	cmd.ValidArgsFunction = completeCaptures(flags)
	return cmd
}

// Complete fills derived fields.
func (o *ExportOptions) Complete(cmd *cobra.Command, args []string) (err error) {
	o.name, err = captureOrFile(cmd, args, o.File)
	return err
}

// Validate checks flags and compiles the filters, so mistakes show before any work.
func (o *ExportOptions) Validate(cmd *cobra.Command) error {
	if o.File != "" && (o.Since != "" || o.Until != "") {
		return usageErrorf(cmd, "--since and --until apply to captures, not to -r FILE")
	}
	if o.name != "" && o.Format == string(offline.PCAP) {
		return usageErrorf(cmd, "captures export as pcapng (one interface per target pod); convert with editcap -F pcap if you must")
	}
	if o.Write == "" {
		return usageErrorf(cmd, "no output: give -w FILE, or -w - for standard output")
	}
	if o.Format != string(offline.PCAPNG) && o.Format != string(offline.PCAP) {
		return usageErrorf(cmd, "unknown format %q: use pcapng or pcap", o.Format)
	}
	if o.Write == "-" && !o.Force {
		if f, ok := o.streams.Out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			return usageErrorf(cmd, "refusing to write a binary capture to a terminal: redirect it, pipe it (| wireshark -k -i -) or use --force")
		}
	}
	if o.KFL != "" {
		f, err := kfl.Compile(o.KFL)
		if err != nil {
			return err
		}
		o.filter = f
	}
	if o.BPF != "" {
		if err := checkBPF(o.BPF); err != nil {
			return err
		}
	}
	return nil
}

// Run performs the export.
func (o *ExportOptions) Run(cmd *cobra.Command) (err error) {
	var w io.Writer
	var closeOut func() error
	if o.Write == "-" {
		w = o.streams.Out
		closeOut = func() error { return nil }
	} else {
		f, err := os.Create(o.Write)
		if err != nil {
			return fmt.Errorf("creating output: %w", err)
		}
		w = f
		closeOut = f.Close
	}
	if o.name != "" {
		return o.runCapture(cmd, w, closeOut)
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	sum, res, runErr := offline.Export(cmd.Context(), offline.Input{Path: o.File, Stdin: o.streams.In}, protocols.Config(),
		offline.ExportOptions{Filter: o.filter, BPF: o.BPF, Format: offline.Format(o.Format), Version: version.Version}, bw)
	if ferr := bw.Flush(); ferr != nil && runErr == nil {
		runErr = fmt.Errorf("writing %s: %w", o.Write, ferr)
	}
	if cerr := closeOut(); cerr != nil && runErr == nil {
		runErr = fmt.Errorf("closing %s: %w", o.Write, cerr)
	}
	if !o.Quiet {
		sum.Dest = o.Write
		fmt.Fprintln(o.streams.ErrOut, sum.String())
		if o.filter != nil {
			fmt.Fprintf(o.streams.ErrOut, "%d of %d entries matched the filter\n", res.Matched, res.Entries)
		}
		if res.EvalErrors > 0 {
			fmt.Fprintf(o.streams.ErrOut, "warning: the filter could not be evaluated on %d entries (counted as no match)\n", res.EvalErrors)
		}
	}
	if runErr != nil {
		return fmt.Errorf("exporting %s: %w", o.File, runErr)
	}
	return nil
}

// runCapture merges the matching streams of every sniffer into one PCAPNG.
func (o *ExportOptions) runCapture(cmd *cobra.Command, w io.Writer, closeOut func() error) error {
	c, ns, err := clients(o.flags)
	if err != nil {
		closeOut()
		return err
	}
	ctx := cmd.Context()
	warn := progressTo(o.streams, o.Quiet)
	pw, err := export.NewPcapNGWriter(w, export.PcapNGOptions{Application: "kubectl-shark " + version.Version,
		Comment: "kubectl shark export " + o.name + " --kfl " + strconv.Quote(o.KFL)})
	if err != nil {
		closeOut()
		return err
	}
	q := capture.Query{KFL: o.KFL, BPF: o.BPF, Since: o.Since, Until: o.Until}
	q.Identities = capture.Identities(ctx, c, warn)
	for ip, id := range q.Identities {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			continue
		}
		if id.Pod != "" {
			pw.AddNameResolution(a, id.Pod+"."+id.Namespace)
		} else if id.Service != "" {
			pw.AddNameResolution(a, id.Service+"."+id.ServiceNamespace+".svc")
		}
	}
	runErr := capture.Export(ctx, c, ns, o.name, q, pw, warn)
	if ferr := pw.Flush(); ferr != nil && runErr == nil {
		runErr = ferr
	}
	if cerr := closeOut(); cerr != nil && runErr == nil {
		runErr = cerr
	}
	sum := pw.Summary()
	sum.Dest = o.Write
	if !o.Quiet {
		fmt.Fprintln(o.streams.ErrOut, sum.String())
		for _, ifc := range pw.Interfaces() {
			if strings.HasSuffix(ifc.Name, ":"+wire.TLSInterfaceName) {
				fmt.Fprintf(o.streams.ErrOut, "note: interfaces named *:%s hold TLS plaintext reconstructed from OpenSSL uprobes, not packets seen on the wire;\n"+
					"      Wireshark decodes port 443 as TLS unless told: use Decode As… → HTTP (tshark -d tcp.port==443,http)\n", wire.TLSInterfaceName)
				break
			}
		}
	}
	return runErr
}
