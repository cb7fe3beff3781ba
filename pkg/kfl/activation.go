package kfl

import (
	"fmt"
	"reflect"
	"sync"

	"cel.dev/cel-go/common/functions"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"
)

// activation is the lazy interpreter.Activation of one evaluation: ResolveName looks the
// variable up in the registry and extracts only that value from the record. It also
// supplies the late-bound now() of the filter being evaluated. Activations are pooled;
// one is used by one evaluation at a time.
type activation struct {
	view
	objs []objView // one per object node, pointing back at this activation
	now  functions.LateBoundOp
}

// resolvers maps each top-level variable name to its field or object node.
var resolvers = func() map[string]resolver {
	m := make(map[string]resolver, len(registry))
	for i := range registry {
		m[registry[i].Name] = resolver{field: &registry[i]}
	}
	for path, n := range objects.roots {
		m[path] = resolver{node: n}
	}
	return m
}()

type resolver struct {
	field *Field
	node  *objNode
}

var activationPool = sync.Pool{New: func() any {
	a := &activation{objs: make([]objView, len(objects.nodes))}
	for i, n := range objects.nodes {
		a.objs[i] = objView{act: a, node: n}
	}
	return a
}}

func getActivation(rec *Record, now functions.LateBoundOp) *activation {
	a := activationPool.Get().(*activation)
	a.reset(rec)
	a.now = now
	return a
}

func putActivation(a *activation) {
	a.clear()
	a.now = nil
	activationPool.Put(a)
}

// ResolveName implements interpreter.Activation.
func (a *activation) ResolveName(name string) (any, bool) {
	r, ok := resolvers[name]
	switch {
	case !ok:
		return nil, false
	case r.node != nil:
		return &a.objs[r.node.idx], true
	}
	return r.field.celValue(&a.view), true
}

// Parent implements interpreter.Activation.
func (a *activation) Parent() interpreter.Activation { return nil }

// ResolveFunction implements interpreter.FunctionActivation: the late-bound now().
func (a *activation) ResolveFunction(name string) (functions.LateBoundOp, bool) {
	if name == "now" && a.now != nil {
		return a.now, true
	}
	return nil, false
}

// objView is the value of an object variable (src, dst.pod, request, ...) during one
// evaluation. Its fields are computed when selected.
type objView struct {
	act  *activation
	node *objNode
}

var (
	_ ref.Val                = (*objView)(nil)
	_ interpreter.Activation = (*activation)(nil)
)

// child returns the value of the j-th field.
func (o *objView) child(j int) ref.Val {
	c := o.node.children[j]
	if c.field != nil {
		return c.field.celValue(&o.act.view)
	}
	return &o.act.objs[c.node.idx]
}

func (o *objView) find(name string) (int, bool) {
	for j, n := range o.node.names {
		if n == name {
			return j, true
		}
	}
	return 0, false
}

// ConvertToNative implements ref.Val.
func (o *objView) ConvertToNative(t reflect.Type) (any, error) {
	return nil, fmt.Errorf("kfl: %s cannot be converted to %v", o.node.typ.name, t)
}

// ConvertToType implements ref.Val.
func (o *objView) ConvertToType(t ref.Type) ref.Val {
	if t == types.TypeType {
		return o.node.typ.cel
	}
	if t.TypeName() == o.node.typ.name {
		return o
	}
	return types.NewErr("type conversion error from '%s' to '%s'", o.node.typ.name, t.TypeName())
}

// Equal implements ref.Val: objects of the same type are equal when all their fields are.
func (o *objView) Equal(other ref.Val) ref.Val {
	p, ok := other.(*objView)
	if !ok || p.node.typ != o.node.typ {
		return types.False
	}
	for j := range o.node.children {
		if eq := o.child(j).Equal(p.child(j)); eq != types.True {
			return types.False
		}
	}
	return types.True
}

// Type implements ref.Val.
func (o *objView) Type() ref.Type { return o.node.typ.cel }

// Value implements ref.Val.
func (o *objView) Value() any { return o }

// Get implements traits.Indexer, for access through dyn().
func (o *objView) Get(index ref.Val) ref.Val {
	if s, ok := index.(types.String); ok {
		if j, ok := o.find(string(s)); ok {
			return o.child(j)
		}
	}
	return types.NewErr("no such key: %v", index)
}

// IsSet implements traits.FieldTester.
func (o *objView) IsSet(field ref.Val) ref.Val {
	if s, ok := field.(types.String); ok {
		if j, ok := o.find(string(s)); ok {
			return types.Bool(isSet(o.child(j)))
		}
	}
	return types.NewErr("no such field: %v", field)
}
