package cli

import (
	"encoding/json"
	"fmt"
	"runtime"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-shark/kubectl-shark/internal/version"
)

// NewCmdVersion prints the build's version and the sniffer image it uses.
func NewCmdVersion(streams genericiooptions.IOStreams) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version of kubectl-shark and of the sniffer image it uses",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch output {
			case "":
				fmt.Fprintln(streams.Out, version.String())
				fmt.Fprintf(streams.Out, "sniffer image: %s\n", version.SnifferImage())
				return nil
			case "json":
				enc := json.NewEncoder(streams.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]string{
					"version": version.Version, "commit": version.Commit, "date": version.Date,
					"goVersion": runtime.Version(), "platform": runtime.GOOS + "/" + runtime.GOARCH,
					"snifferImage": version.SnifferImage(),
				})
			}
			return usageErrorf(cmd, "unknown output format %q: use json or leave it empty", output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Output format: json")
	return cmd
}
