package cli

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-shark/kubectl-shark/pkg/kfl"
)

// NewCmdFields lists the KFL variables.
func NewCmdFields(streams genericiooptions.IOStreams) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "fields [-o json]",
		Short: "List every KFL variable: name, type, default, meaning, and whether this build fills it",
		Example: `  # Every variable
  kubectl shark fields

  # Only the ones this build fills, as JSON
  kubectl shark fields -o json | jq '.[] | select(.filled)'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fields := kfl.Fields()
			switch output {
			case "json":
				type jf struct {
					Name    string `json:"name"`
					Type    string `json:"type"`
					Default string `json:"default"`
					Group   string `json:"group"`
					Doc     string `json:"doc"`
					Filled  bool   `json:"filled"`
				}
				out := make([]jf, 0, len(fields))
				for _, f := range fields {
					out = append(out, jf{f.Name, f.TypeName(), f.DefaultText(), f.Group, f.Doc, f.Filled})
				}
				enc := json.NewEncoder(streams.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			case "", "table":
				tw := tabwriter.NewWriter(streams.Out, 0, 8, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tTYPE\tDEFAULT\tFILLED\tDESCRIPTION")
				for _, f := range fields {
					filled := "yes"
					if !f.Filled {
						filled = "no"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.Name, f.TypeName(), f.DefaultText(), filled, f.Doc)
				}
				return tw.Flush()
			}
			return usageErrorf(cmd, "unknown output format %q: use table or json", output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "Output format: table or json")
	return cmd
}
