package kfl

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/ext"
)

// LibVersion is the latest version of the KFL CEL library (Lib). Version 1 is the
// KFL2 variable set of the registry, map_get, now(), the CEL standard library and the
// cel-go strings extension (version 5, which has cost models).
const LibVersion uint32 = 1

// CostLimit bounds the work of one evaluation, in cel-go cost units (roughly one per
// operation, strings and lists by size). A filter whose minimum estimated cost exceeds
// it does not compile; an evaluation that exceeds it stops with ErrCostLimit.
//
// Runtime cost tracking roughly doubles the time of an evaluation, so Compile enables
// it only for expressions whose cost is not bounded by their size (itself bounded by
// the parser) times the size of the entry's values: those with comprehensions or with
// functions that build larger values (see needsCostTracking). Typical filters (flags,
// comparisons, contains, matches, `in`, map_get) run without it.
const CostLimit = 1_000_000

// interruptCheckFrequency is how many comprehension iterations run between checks of
// the evaluation's context in MatchContext.
const interruptCheckFrequency = 100

// Lib is the KFL CEL library: the registry's variables with their CEL types, the object
// types of dotted variables, and KFL's functions. Version selects the feature set; zero
// means LibVersion. Programs get OptOptimize (constant regexes and `in` lists are
// precompiled) and comprehension interrupt checks; Compile adds the cost limit.
//
// now() is late-bound so that each filter fixes it when it is compiled: filters from
// Compile supply it; other users of Lib supply it through cel.FunctionVars. has() on a
// field of an object variable (has(src.pod.name)) is true when the value is not its
// default.
type Lib struct {
	Version uint32
}

// LibraryName implements cel.SingletonLibrary.
func (Lib) LibraryName() string { return "kubectl-shark.kfl" }

// LibraryVersion implements cel.LibraryVersioner.
func (l Lib) LibraryVersion() uint32 {
	if l.Version == 0 {
		return LibVersion
	}
	return l.Version
}

// CompileOptions implements cel.Library.
func (l Lib) CompileOptions() []cel.EnvOption {
	if v := l.LibraryVersion(); v > LibVersion {
		return []cel.EnvOption{func(*cel.Env) (*cel.Env, error) {
			return nil, fmt.Errorf("kfl: unknown library version %d (latest is %d)", v, LibVersion)
		}}
	}
	opts := []cel.EnvOption{
		cel.DefaultUTCTimeZone(true),
		withObjectTypes,
		ext.Strings(ext.StringsVersion(5)),
		cel.ParserExpressionSizeLimit(maxExprSize),
	}
	for _, f := range registry {
		if !strings.Contains(f.Name, ".") {
			opts = append(opts, cel.Variable(f.Name, f.Type.CELType()))
		}
	}
	for _, n := range objects.nodes {
		if n.parent == nil {
			opts = append(opts, cel.Variable(n.path, n.typ.cel))
		}
	}
	k, v := cel.TypeParamType("K"), cel.TypeParamType("V")
	opts = append(opts,
		cel.Function("map_get",
			cel.Overload("map_get_map_key_default", []*cel.Type{cel.MapType(k, v), k, v}, v,
				cel.FunctionBinding(mapGet))),
		cel.Function("now",
			cel.Overload("now", nil, cel.TimestampType, cel.LateFunctionBinding())),
	)
	return opts
}

// ProgramOptions implements cel.Library.
func (Lib) ProgramOptions() []cel.ProgramOption {
	return []cel.ProgramOption{
		cel.EvalOptions(cel.OptOptimize),
		cel.InterruptCheckFrequency(interruptCheckFrequency),
	}
}

// maxExprSize bounds the length of a filter in code points.
const maxExprSize = 16 << 10

// mapGet implements map_get(map, key, default): map[key] if present, else default.
func mapGet(args ...ref.Val) ref.Val {
	m, ok := args[0].(traits.Mapper)
	if !ok {
		return types.MaybeNoSuchOverloadErr(args[0])
	}
	if v, found := m.Find(args[1]); found {
		return v
	}
	return args[2]
}

var defaultEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(cel.Lib(Lib{Version: LibVersion}))
})

// nowFunc returns the implementation of now() for a filter compiled at t.
func nowFunc(t time.Time) func(string, ...ref.Val) ref.Val {
	ts := types.Timestamp{Time: t.UTC()}
	return func(string, ...ref.Val) ref.Val { return ts }
}

// Object types of dotted variables.
//
// The dotted names of the registry (src.ip, src.pod.name, request.headers, ...) are
// fields of object variables. Their types are served by a types.Provider wrapping the
// environment's; field getters read the record through the activation, so selecting
// src.pod.name computes that string and nothing else.

// objTypeNames names the object type of each object path. Paths with the same type
// must have the same fields in the same order (checked at init).
var objTypeNames = map[string]string{
	"src":         "kfl.Endpoint",
	"dst":         "kfl.Endpoint",
	"src.pod":     "kfl.Pod",
	"dst.pod":     "kfl.Pod",
	"src.service": "kfl.Service",
	"dst.service": "kfl.Service",
	"request":     "kfl.HTTPMessage",
	"response":    "kfl.HTTPMessage",
}

type objType struct {
	name       string
	cel        *types.Type
	fields     []string
	fieldTypes map[string]*types.FieldType
}

type objNode struct {
	path     string
	parent   *objNode
	typ      *objType
	idx      int // index in objects.nodes and in activation.objs
	names    []string
	children []child // aligned with names and typ.fields
}

type child struct {
	field *Field   // a variable, or
	node  *objNode // a nested object
}

type objectSet struct {
	nodes []*objNode
	roots map[string]*objNode
	types map[string]*objType
}

var objects = buildObjects()

func buildObjects() *objectSet {
	s := &objectSet{roots: map[string]*objNode{}, types: map[string]*objType{}}
	byPath := map[string]*objNode{}
	node := func(path string, parent *objNode) *objNode {
		if n, ok := byPath[path]; ok {
			return n
		}
		n := &objNode{path: path, parent: parent, idx: len(s.nodes)}
		byPath[path] = n
		s.nodes = append(s.nodes, n)
		if parent == nil {
			s.roots[path] = n
		} else {
			parent.names = append(parent.names, path[strings.LastIndexByte(path, '.')+1:])
			parent.children = append(parent.children, child{node: n})
		}
		return n
	}
	for i := range registry {
		f := &registry[i]
		parts := strings.Split(f.Name, ".")
		if len(parts) == 1 {
			continue
		}
		var parent *objNode
		for j := 1; j < len(parts); j++ {
			parent = node(strings.Join(parts[:j], "."), parent)
		}
		parent.names = append(parent.names, parts[len(parts)-1])
		parent.children = append(parent.children, child{field: f})
	}
	// Assign types bottom-up: children were created after their parents.
	for i := len(s.nodes) - 1; i >= 0; i-- {
		n := s.nodes[i]
		name, ok := objTypeNames[n.path]
		if !ok {
			panic("kfl: no object type name for " + n.path)
		}
		if t, ok := s.types[name]; ok {
			if !sameShape(t, n) {
				panic("kfl: " + n.path + " does not have the fields of " + name)
			}
			n.typ = t
			continue
		}
		t := &objType{name: name, cel: types.NewObjectType(name), fields: n.names,
			fieldTypes: map[string]*types.FieldType{}}
		for j, c := range n.children {
			ft := &types.FieldType{IsSet: isSetter(j), GetFrom: getter(j)}
			if c.field != nil {
				ft.Type = c.field.Type.CELType()
			} else {
				ft.Type = c.node.typ.cel
			}
			t.fieldTypes[n.names[j]] = ft
		}
		s.types[name] = t
		n.typ = t
	}
	for _, r := range s.roots {
		if _, clash := byName[r.path]; clash {
			panic("kfl: " + r.path + " is both a variable and an object")
		}
	}
	return s
}

func sameShape(t *objType, n *objNode) bool {
	if len(t.fields) != len(n.names) {
		return false
	}
	for j, name := range n.names {
		ft := t.fieldTypes[name]
		if t.fields[j] != name || ft == nil {
			return false
		}
		c := n.children[j]
		if c.field != nil && !ft.Type.IsExactType(c.field.Type.CELType()) ||
			c.node != nil && ft.Type != c.node.typ.cel {
			return false
		}
	}
	return true
}

func getter(j int) ref.FieldGetter {
	return func(target any) (any, error) {
		o, ok := target.(*objView)
		if !ok {
			return nil, fmt.Errorf("kfl: field access on %T", target)
		}
		return o.child(j), nil
	}
}

func isSetter(j int) ref.FieldTester {
	return func(target any) bool {
		o, ok := target.(*objView)
		return ok && isSet(o.child(j))
	}
}

// isSet is has() on a KFL field: true unless the value is its type's zero value.
func isSet(v ref.Val) bool {
	switch v := v.(type) {
	case *objView:
		return true
	case traits.Zeroer:
		return !v.IsZeroValue()
	case traits.Sizer:
		return v.Size() != types.IntZero
	}
	return true
}

// provider serves the object types on top of the environment's provider.
type provider struct {
	types.Provider
	objs map[string]*objType
}

func withObjectTypes(e *cel.Env) (*cel.Env, error) {
	return cel.CustomTypeProvider(&provider{Provider: e.CELTypeProvider(), objs: objects.types})(e)
}

func (p *provider) FindIdent(name string) (ref.Val, bool) {
	if t, ok := p.objs[name]; ok {
		return t.cel, true
	}
	return p.Provider.FindIdent(name)
}

func (p *provider) FindStructType(name string) (*types.Type, bool) {
	if t, ok := p.objs[name]; ok {
		return types.NewTypeTypeWithParam(t.cel), true
	}
	return p.Provider.FindStructType(name)
}

func (p *provider) FindStructFieldNames(name string) ([]string, bool) {
	if t, ok := p.objs[name]; ok {
		return append([]string(nil), t.fields...), true
	}
	return p.Provider.FindStructFieldNames(name)
}

func (p *provider) FindStructFieldType(name, field string) (*types.FieldType, bool) {
	if t, ok := p.objs[name]; ok {
		ft, ok := t.fieldTypes[field]
		return ft, ok
	}
	return p.Provider.FindStructFieldType(name, field)
}

func (p *provider) NewValue(name string, fields map[string]ref.Val) ref.Val {
	if _, ok := p.objs[name]; ok {
		return types.NewErr("kfl: values of type %s cannot be created", name)
	}
	return p.Provider.NewValue(name, fields)
}
