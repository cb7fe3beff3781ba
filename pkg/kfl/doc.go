// Package kfl owns KFL, kubectl-shark's display-filter language: a boolean CEL
// expression evaluated against each dissected entry, with the variable set users know
// from Kubeshark's KFL2 (docs/kfl.md, `kubectl shark fields`).
//
// The package owns four things, all derived from one field registry (registry.go):
//
//   - the registry itself: every KFL variable with its type, default, one-line doc,
//     group, whether this build fills it, and an extractor from a Record (Fields);
//   - the CEL environment, built once from the registry as a versioned cel.Lib (Lib),
//     and filter compilation and evaluation (Compile, Filter.Match);
//   - the JSON form of an entry keyed by KFL variable names (AppendJSON), which is the
//     format of `kubectl shark entries -o json` and of the sniffer API's NDJSON;
//   - the reference documentation of the variables (Markdown).
//
// A Record is a dissect.Entry plus the optional Kubernetes context of its endpoints
// (a Resolver from IP to Identity, and the captured node). The package never talks to
// Kubernetes: callers resolve identities and hand them in.
//
// Every variable exists in every evaluation with its default (the value it has on an
// empty entry), so a filter never fails on an attribute missing from an entry of another
// protocol. Variables are resolved lazily: evaluation computes only what the expression
// touches, through a pooled activation, and never builds a map of all variables.
//
// Dotted variables (src.ip, src.pod.name, request.headers, ...) are fields of four
// statically typed object variables, src and dst (kfl.Endpoint, with nested kfl.Pod and
// kfl.Service) and request and response (kfl.HTTPMessage), served by a custom
// types.Provider whose field getters read the record through the activation. The
// alternative, ext.NativeTypes over Go structs with `cel` tags, was measured by
// BenchmarkObjectTypes: it needs the whole struct filled (every identity lookup done)
// before a field can be selected and reaches fields by reflection; the provider was
// about 10-20% faster with one allocation less for three fields of src, and the gap
// grows with the number of object fields a record would have to fill.
//
// Evaluation cost is bounded by CostLimit for expressions whose cost can grow faster
// than the expression and the record (comprehensions, concatenation, replace, ...).
// Runtime cost tracking roughly doubles evaluation time, so the other expressions,
// which are most filters, run without it (a deviation from "always set a cost limit",
// measured by BenchmarkCostTracking).
//
// Compiled filters are safe for concurrent use. Compile errors are *Error values whose
// text shows the expression with a caret under the offending column.
package kfl
