package kfl

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"
)

var benchFilters = []struct{ name, expr string }{
	{"simple", `http && status_code >= 500`},
	{"regex", `http && url.matches("^/api/(users|orders)/?\\?id=[0-9]+$")`},
	{"regex-dynamic", `http && url.matches("^" + path)`}, // pattern built per record: compiled per evaluation
	{"header", `http && "authorization" in request.headers && request.headers["user-agent"].startsWith("Curl")`},
	{"kubernetes", `src.pod.namespace == "production" && map_get(local_labels, "app", "") == "web"`},
	{"list", `"production" in namespaces && method in ["GET", "HEAD", "OPTIONS"]`},
	{"time", `timestamp > now() - duration("5m") || elapsed_time > 1000`},
}

func BenchmarkCompile(b *testing.B) {
	for _, bf := range benchFilters {
		b.Run(bf.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := Compile(bf.expr); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkMatch(b *testing.B) {
	rec := kube(httpEntry())
	for _, bf := range benchFilters {
		f := mustCompile(b, bf.expr)
		b.Run(bf.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.Match(rec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCostTracking measures what cel.CostLimit costs a typical filter, which is
// why Compile sets it only where it is needed.
func BenchmarkCostTracking(b *testing.B) {
	env, err := defaultEnv()
	if err != nil {
		b.Fatal(err)
	}
	rec := kube(httpEntry())
	for _, bf := range benchFilters[:2] {
		ast, iss := env.Compile(bf.expr)
		if iss.Err() != nil {
			b.Fatal(iss.Err())
		}
		for _, tracked := range []bool{false, true} {
			var opts []cel.ProgramOption
			name := bf.name + "/untracked"
			if tracked {
				opts, name = append(opts, cel.CostLimit(CostLimit)), bf.name+"/tracked"
			}
			prg, err := env.Program(ast, opts...)
			if err != nil {
				b.Fatal(err)
			}
			f := &Filter{expr: bf.expr, prg: prg, now: nowFunc(time.Now())}
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := f.Match(rec); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkMatchContext(b *testing.B) {
	rec := kube(httpEntry())
	f := mustCompile(b, benchFilters[0].expr)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.MatchContext(ctx, rec); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMatchParallel(b *testing.B) {
	rec := kube(httpEntry())
	f := mustCompile(b, benchFilters[0].expr)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := f.Match(rec); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkAppendJSON(b *testing.B) {
	for _, name := range []string{"http", "dns", "tcp_conn", "offline"} {
		rec := fixtures()[name]
		b.Run(name, func(b *testing.B) {
			buf := AppendJSON(nil, rec)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				buf = AppendJSON(buf[:0], rec)
			}
		})
	}
	// The same object through encoding/json, for a ratio.
	b.Run("http-encoding-json", func(b *testing.B) {
		rec := kube(httpEntry())
		var fs []Field
		var m map[string]any
		if err := json.Unmarshal(AppendJSON(nil, rec), &m); err != nil {
			b.Fatal(err)
		}
		for k := range m {
			f, _ := Lookup(k)
			fs = append(fs, f)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(Values(rec, fs)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Native types: the alternative to the custom provider, measured by
// BenchmarkObjectTypes. The struct has to be filled (every identity lookup done)
// before a field can be selected.
type nativePod struct {
	Name      string `cel:"name"`
	Namespace string `cel:"namespace"`
}

type nativeEndpoint struct {
	IP      string    `cel:"ip"`
	Port    int64     `cel:"port"`
	Pod     nativePod `cel:"pod"`
	Service nativePod `cel:"service"`
	DNS     string    `cel:"dns"`
}

type nativeActivation struct{ src nativeEndpoint }

func (a *nativeActivation) ResolveName(name string) (any, bool) {
	if name == "src" {
		return &a.src, true
	}
	return nil, false
}

func (a *nativeActivation) Parent() interpreter.Activation { return nil }

func BenchmarkObjectTypes(b *testing.B) {
	const expr = `src.ip == "10.0.0.5" && src.port == 43210 && src.pod.name == "web-1"`
	rec := kube(httpEntry())

	b.Run("provider", func(b *testing.B) {
		f := mustCompile(b, expr)
		b.ReportAllocs()
		for b.Loop() {
			if ok, err := f.Match(rec); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})

	b.Run("native", func(b *testing.B) {
		env, err := cel.NewEnv(
			ext.NativeTypes(reflect.TypeFor[nativeEndpoint](), ext.ParseStructTags(true)),
			cel.Variable("src", cel.ObjectType("kfl.nativeEndpoint")),
		)
		if err != nil {
			b.Fatal(err)
		}
		ast, iss := env.Compile(expr)
		if iss.Err() != nil {
			b.Fatal(iss.Err())
		}
		prg, err := env.Program(ast, Lib{}.ProgramOptions()...)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			a := &nativeActivation{}
			v := getView(rec)
			id, _ := v.ident(srcSide)
			a.src = nativeEndpoint{
				IP: ipString(v.e.Src.IP), Port: int64(v.e.Src.Port),
				Pod:     nativePod{Name: podName(v, srcSide), Namespace: podNamespace(v, srcSide)},
				Service: nativePod{Name: id.Service, Namespace: serviceNamespace(v, srcSide)},
				DNS:     id.DNS,
			}
			putView(v)
			out, _, err := prg.Eval(a)
			if err != nil || out.Value() != true {
				b.Fatal(out, err)
			}
		}
	})
}
