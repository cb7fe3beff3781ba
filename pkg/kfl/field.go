package kfl

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// Type is the KFL type of a variable, named as in the KFL reference.
type Type uint8

// KFL types. TypeStringMap and TypeMap are both CEL map(string, string); the
// reference calls the nested maps `capture` and `node` plain "map".
const (
	TypeString     Type = iota + 1 // CEL string
	TypeInt                        // CEL int (64-bit)
	TypeBool                       // CEL bool
	TypeStringList                 // CEL list(string)
	TypeStringMap                  // CEL map(string, string)
	TypeTimestamp                  // CEL google.protobuf.Timestamp
	TypeBytes                      // CEL bytes
	TypeMap                        // CEL map(string, string), shown as "map"
)

// String returns the type as the KFL reference writes it.
func (t Type) String() string {
	switch t {
	case TypeString:
		return "string"
	case TypeInt:
		return "int"
	case TypeBool:
		return "bool"
	case TypeStringList:
		return "[]string"
	case TypeStringMap:
		return "map[string]string"
	case TypeTimestamp:
		return "timestamp"
	case TypeBytes:
		return "bytes"
	case TypeMap:
		return "map"
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// CELType returns the CEL type of variables of type t.
func (t Type) CELType() *cel.Type {
	switch t {
	case TypeString:
		return cel.StringType
	case TypeInt:
		return cel.IntType
	case TypeBool:
		return cel.BoolType
	case TypeStringList:
		return cel.ListType(cel.StringType)
	case TypeStringMap, TypeMap:
		return cel.MapType(cel.StringType, cel.StringType)
	case TypeTimestamp:
		return cel.TimestampType
	case TypeBytes:
		return cel.BytesType
	}
	return cel.DynType
}

// Field describes one KFL variable. Fields are values: copies returned by Fields share
// the extractor of the registry entry.
type Field struct {
	// Name is the variable as written in a filter, e.g. "status_code" or "src.pod.name".
	Name string
	// Type is the variable's KFL type.
	Type Type
	// Default is the value on an empty entry (an entry of another protocol, or a
	// Record without Kubernetes context), as the Go type Value returns.
	Default any
	// Doc is a one-line description, including the interpretation kubectl-shark chose
	// where the reference is ambiguous.
	Doc string
	// Group is the section of the reference the variable belongs to: "network",
	// "identity", "crossref", "capture", "flags", a protocol ("http", "dns", "tls",
	// "tcp", "udp", "sctp", "icmp", "ws", "redis", "kafka", "amqp", "ldap", "radius",
	// "diameter"), "conn", "flow" or "kubernetes".
	Group string
	// Filled reports whether this build computes the variable. Variables that are not
	// filled are declared (filters using them compile) and always have their default.
	Filled bool

	x *extract
}

// extract holds the extractor of a field: exactly one function, matching Type, or a
// constant for fields this build does not fill.
type extract struct {
	str   func(*view) string
	num   func(*view) int64
	flag  func(*view) bool
	list  func(*view) []string
	smap  func(*view) map[string]string
	ts    func(*view) time.Time
	raw   func(*view) []byte
	konst ref.Val // CEL value of an unfilled field

	jsonKey []byte // `"name":`
}

// Value returns the variable's value for rec as a Go value: string, int64, bool,
// []string, map[string]string (TypeStringMap and TypeMap), time.Time or []byte.
// Returned slices and maps may be shared with the record: do not modify them.
func (f Field) Value(rec *Record) any {
	v := getView(rec)
	defer putView(v)
	return f.native(v)
}

// Values returns the values of fields for rec keyed by field name, looking up the
// record's identities at most once.
func Values(rec *Record, fields []Field) map[string]any {
	v := getView(rec)
	defer putView(v)
	out := make(map[string]any, len(fields))
	for _, f := range fields {
		out[f.Name] = f.native(v)
	}
	return out
}

func (f *Field) native(v *view) any {
	x := f.x
	if x.konst != nil {
		return x.konst.Value()
	}
	switch f.Type {
	case TypeString:
		return x.str(v)
	case TypeInt:
		return x.num(v)
	case TypeBool:
		return x.flag(v)
	case TypeStringList:
		return nonNilList(x.list(v))
	case TypeStringMap, TypeMap:
		return nonNilMap(x.smap(v))
	case TypeTimestamp:
		return x.ts(v)
	case TypeBytes:
		return nonNilBytes(x.raw(v))
	}
	panic("kfl: field " + f.Name + " has no extractor")
}

// celValue returns the variable's value for v as a CEL value.
func (f *Field) celValue(v *view) ref.Val {
	x := f.x
	if x.konst != nil {
		return x.konst
	}
	switch f.Type {
	case TypeString:
		return types.String(x.str(v))
	case TypeInt:
		return intVal(x.num(v))
	case TypeBool:
		return types.Bool(x.flag(v))
	case TypeStringList:
		return types.NewStringList(types.DefaultTypeAdapter, x.list(v))
	case TypeStringMap, TypeMap:
		return types.NewStringStringMap(types.DefaultTypeAdapter, x.smap(v))
	case TypeTimestamp:
		return types.Timestamp{Time: x.ts(v)}
	case TypeBytes:
		return types.Bytes(x.raw(v))
	}
	return types.NewErr("kfl: field %s has no extractor", f.Name)
}

// smallInts holds boxed CEL ints for common small values (status codes, sizes,
// counters), saving an allocation per access.
var smallInts = func() (t [1024]ref.Val) {
	for i := range t {
		t[i] = types.Int(i)
	}
	return t
}()

func intVal(n int64) ref.Val {
	if n >= 0 && n < int64(len(smallInts)) {
		return smallInts[n]
	}
	return types.Int(n)
}

// zeroOf returns the CEL zero value of t.
func zeroOf(t Type) ref.Val {
	switch t {
	case TypeString:
		return types.String("")
	case TypeInt:
		return types.IntZero
	case TypeBool:
		return types.False
	case TypeStringList:
		return types.NewStringList(types.DefaultTypeAdapter, []string{})
	case TypeStringMap, TypeMap:
		return types.NewStringStringMap(types.DefaultTypeAdapter, map[string]string{})
	case TypeTimestamp:
		return types.Timestamp{Time: time.Unix(0, 0).UTC()}
	case TypeBytes:
		return types.Bytes([]byte{})
	}
	panic("kfl: unknown type " + t.String())
}

// TypeName returns the type as the KFL reference writes it ("string", "[]string", ...).
func (f Field) TypeName() string { return f.Type.String() }

// DefaultText returns the default as a CEL literal (`""`, `0`, `[]`, `{}`, ...), so
// that the filter `<Name> == <DefaultText>` is true on an empty entry.
func (f Field) DefaultText() string {
	return celLiteral(f.Default)
}

func celLiteral(v any) string {
	switch d := v.(type) {
	case string:
		return strconv.Quote(d)
	case int64:
		return strconv.FormatInt(d, 10)
	case bool:
		return strconv.FormatBool(d)
	case []string:
		q := make([]string, len(d))
		for i, s := range d {
			q[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	case map[string]string:
		keys := make([]string, 0, len(d))
		for k := range d {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		q := make([]string, len(keys))
		for i, k := range keys {
			q[i] = strconv.Quote(k) + ": " + strconv.Quote(d[k])
		}
		return "{" + strings.Join(q, ", ") + "}"
	case time.Time:
		return `timestamp("` + d.UTC().Format(time.RFC3339Nano) + `")`
	case []byte:
		var b strings.Builder
		b.WriteString(`b"`)
		for _, c := range d {
			fmt.Fprintf(&b, `\x%02x`, c)
		}
		b.WriteString(`"`)
		return b.String()
	}
	return fmt.Sprint(v)
}

func nonNilList(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func nonNilBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
