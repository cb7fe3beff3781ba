package kfl

import (
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kubectl-shark/kubectl-shark/internal/jsonstr"
)

// JSON layout, computed once from the registry.
var (
	jsonCommonFields []*Field // always, in this order
	jsonIfSetFields  []*Field // after the common fields, when non-empty
	jsonFlags        []jsonFlagGroup
	jsonKubeFields   []*Field
)

const maxJSONFlags = 64

type jsonFlagGroup struct {
	flag   *Field
	fields []*Field // filled fields of the flag's protocol group
}

func init() {
	for _, n := range []string{"id", "index", "stream", "timestamp", "elapsed_time", "protocol",
		"src.ip", "src.port", "dst.ip", "dst.port", "capture_source"} {
		jsonCommonFields = append(jsonCommonFields, mustField(n))
	}
	for _, n := range []string{"node_id", "worker"} {
		jsonIfSetFields = append(jsonIfSetFields, mustField(n))
	}
	for i := range registry {
		f := &registry[i]
		switch {
		case f.Group == "flags" && f.Filled:
			g := jsonFlagGroup{flag: f}
			for j := range registry {
				if p := &registry[j]; p.Group == f.Name && p.Filled {
					g.fields = append(g.fields, p)
				}
			}
			if f.Name == "dns" { // status_code is the RCODE for DNS
				g.fields = append(g.fields, byName["status_code"])
			}
			jsonFlags = append(jsonFlags, g)
			if len(jsonFlags) > maxJSONFlags {
				panic("kfl: too many protocol flags for AppendJSON")
			}
		case f.Group == "kubernetes" && f.Filled && f.Name != "node": // node_name/node_ip carry it
			jsonKubeFields = append(jsonKubeFields, f)
		}
	}
}

func mustField(name string) *Field {
	f, ok := byName[name]
	if !ok {
		panic("kfl: unknown field " + name)
	}
	return f
}

// AppendJSON appends rec as one JSON object (no trailing newline) to dst and returns
// the extended buffer. It is the format of `kubectl shark entries -o json` and of the
// sniffer API's NDJSON. Keys are KFL variable names (dotted names are flat keys:
// "src.ip", "request.headers"), values have the variable's type, so a key means the same
// thing in a filter and in the output. Keys appear in this order:
//
//  1. always: id, index, stream, timestamp (RFC 3339 with nanoseconds, UTC),
//     elapsed_time (µs), protocol, src.ip, src.port, dst.ip, dst.port, capture_source;
//     then node_id and worker when set;
//  2. the protocol flags that are true ("http": true, "tcp": true, ...), in registry
//     order; flags that are false are omitted;
//  3. for each true flag, every filled variable of its protocol group, present even when
//     empty: http → method ... response_body_size; dns → dns_* and status_code (the
//     RCODE); tls → tls_*; redis → redis_*; tcp → tcp_error_type, tcp_error_message;
//     conn → conn_*; flow → flow_*;
//  4. when the record has Kubernetes context (a Resolver, or a node): every filled
//     Kubernetes variable except the `node` map (node_name and node_ip carry it).
//
// Lists are arrays (never null), maps are objects with sorted keys, bytes are base64
// strings. Variables this build does not fill are never written. The layout only grows:
// new keys may be added, existing keys keep their name, type and meaning.
func AppendJSON(dst []byte, rec *Record) []byte {
	v := getView(rec)
	defer putView(v)
	dst = append(dst, '{')
	for i, f := range jsonCommonFields {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = f.appendJSON(dst, v)
	}
	for _, f := range jsonIfSetFields {
		if f.x.str(v) != "" {
			dst = append(dst, ',')
			dst = f.appendJSON(dst, v)
		}
	}
	var set [maxJSONFlags]bool
	for i, g := range jsonFlags {
		if set[i] = g.flag.x.flag(v); set[i] {
			dst = append(dst, ',')
			dst = append(dst, g.flag.x.jsonKey...)
			dst = append(dst, "true"...)
		}
	}
	for i, g := range jsonFlags {
		if !set[i] {
			continue
		}
		for _, f := range g.fields {
			dst = append(dst, ',')
			dst = f.appendJSON(dst, v)
		}
	}
	if v.hasKube() {
		for _, f := range jsonKubeFields {
			dst = append(dst, ',')
			dst = f.appendJSON(dst, v)
		}
	}
	return append(dst, '}')
}

// appendJSON appends `"name":value`.
func (f *Field) appendJSON(dst []byte, v *view) []byte {
	x := f.x
	dst = append(dst, x.jsonKey...)
	switch f.Type {
	case TypeString:
		return appendString(dst, x.str(v))
	case TypeInt:
		return strconv.AppendInt(dst, x.num(v), 10)
	case TypeBool:
		return strconv.AppendBool(dst, x.flag(v))
	case TypeStringList:
		dst = append(dst, '[')
		for i, s := range x.list(v) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, s)
		}
		return append(dst, ']')
	case TypeStringMap, TypeMap:
		return appendMap(dst, x.smap(v))
	case TypeTimestamp:
		dst = append(dst, '"')
		dst = x.ts(v).UTC().AppendFormat(dst, time.RFC3339Nano)
		return append(dst, '"')
	case TypeBytes:
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, x.raw(v))
		return append(dst, '"')
	}
	panic("kfl: field " + f.Name + " has no JSON encoding")
}

func appendMap(dst []byte, m map[string]string) []byte {
	type kv struct{ k, v string }
	var buf [16]kv
	pairs := buf[:0]
	for k, v := range m {
		pairs = append(pairs, kv{k, v})
	}
	slices.SortFunc(pairs, func(a, b kv) int { return strings.Compare(a.k, b.k) })
	dst = append(dst, '{')
	for i, p := range pairs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, p.k)
		dst = append(dst, ':')
		dst = appendString(dst, p.v)
	}
	return append(dst, '}')
}

// appendString appends s as a JSON string, escaping as encoding/json does except for
// HTML characters.
func appendString(dst []byte, s string) []byte { return jsonstr.Append(dst, s, false) }
