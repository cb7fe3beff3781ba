package kfl

import (
	"sync"

	"github.com/kubectl-shark/kubectl-shark/pkg/dissect"
)

// emptyEntry stands in for a nil Record.Entry. Never modified.
var emptyEntry dissect.Entry

// side indexes the two endpoints of an entry in request direction.
type side uint8

const (
	srcSide side = 0
	dstSide side = 1
)

// idState caches the identity lookup of one side.
type idState uint8

const (
	idUnresolved idState = iota // not looked up yet
	idFound                     // resolver knows the IP
	idMissing                   // resolver present, IP unknown ("cache_miss")
	idNone                      // no resolver, or no IP: no Kubernetes context
)

// view is one record as seen by extractors during one evaluation (or one JSON
// encoding): the entry, the record's context, and the identities looked up so far.
// Extractors call only what they need, so a filter that never touches a Kubernetes
// variable never calls the resolver.
type view struct {
	rec *Record
	e   *dissect.Entry
	ids [2]Identity
	st  [2]idState
}

var emptyRecord Record

func (v *view) reset(rec *Record) {
	if rec == nil {
		rec = &emptyRecord
	}
	v.clear()
	v.rec = rec
	v.e = rec.Entry
	if v.e == nil {
		v.e = &emptyEntry
	}
}

// clear drops references so a pooled view does not keep records alive. Only found
// identities hold data, so only those are zeroed.
func (v *view) clear() {
	v.rec, v.e = nil, nil
	for s := range v.st {
		if v.st[s] == idFound {
			v.ids[s] = Identity{}
		}
		v.st[s] = idUnresolved
	}
}

// ident returns the identity of side s (zero when unknown) and the lookup state.
func (v *view) ident(s side) (*Identity, idState) {
	if v.st[s] == idUnresolved {
		ep := &v.e.Src
		if s == dstSide {
			ep = &v.e.Dst
		}
		switch {
		case v.rec.Resolver == nil || !ep.IP.IsValid():
			v.st[s] = idNone
		default:
			id, ok := v.rec.Resolver.Resolve(ep.IP.Unmap())
			if ok {
				v.ids[s], v.st[s] = id, idFound
			} else {
				v.st[s] = idMissing
			}
		}
	}
	return &v.ids[s], v.st[s]
}

// local returns the side of the captured peer (see dissect.Entry.LocalIsSrc).
func (v *view) local() side {
	if v.e.LocalIsSrc {
		return srcSide
	}
	return dstSide
}

func (v *view) remote() side { return v.local() ^ 1 }

// hasKube reports whether the record carries any Kubernetes context.
func (v *view) hasKube() bool {
	return v.rec.Resolver != nil || v.rec.Node != "" || v.rec.NodeIP != ""
}

var viewPool = sync.Pool{New: func() any { return new(view) }}

func getView(rec *Record) *view {
	v := viewPool.Get().(*view)
	v.reset(rec)
	return v
}

func putView(v *view) {
	v.clear()
	viewPool.Put(v)
}
