package kfl

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/functions"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/interpreter"
)

// Filter is a compiled KFL expression. It is safe for concurrent use.
type Filter struct {
	expr   string
	prg    cel.Program // nil: matches everything
	now    functions.LateBoundOp
	errors atomic.Uint64
}

// ErrCostLimit is wrapped by the error of an evaluation that exceeded CostLimit.
var ErrCostLimit = errors.New("filter exceeded its cost limit")

// Error is a compile error of a KFL expression. Its text is the one users see: each
// issue as "ERROR: <input>:LINE:COLUMN: message", followed by the offending line of the
// expression and a caret under the column.
type Error struct {
	Expr   string
	Issues []Issue
	text   string
}

// Issue is one problem found in an expression.
type Issue struct {
	Line, Column int // 1-based position in the expression
	Message      string
}

func (e *Error) Error() string { return e.text }

// EvalError is returned by Filter.Match when an evaluation fails at run time, for
// instance on `request.headers["x"]` for an entry without that header (use
// `"x" in request.headers` or map_get). The entry does not match.
type EvalError struct {
	Err error
}

func (e *EvalError) Error() string { return "evaluating filter: " + e.Err.Error() }
func (e *EvalError) Unwrap() error { return e.Err }

// Compile compiles a KFL expression. An empty or whitespace-only expression matches
// everything. The expression must be of type bool. now() is fixed to the time of the
// call. Errors are *Error.
func Compile(expr string) (*Filter, error) {
	f := &Filter{expr: expr}
	if strings.TrimSpace(expr) == "" {
		return f, nil
	}
	env, err := defaultEnv()
	if err != nil {
		return nil, fmt.Errorf("building KFL environment: %w", err)
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, newError(expr, iss.Errors())
	}
	if t := ast.OutputType(); !t.IsExactType(types.BoolType) {
		return nil, reportAt(expr, "filter must be a boolean expression, got %s", t)
	}
	if est, err := env.EstimateCost(ast, estimator{}); err == nil && est.Min > CostLimit {
		return nil, reportAt(expr, "filter is too expensive: estimated cost of at least %d exceeds the limit of %d", est.Min, CostLimit)
	}
	var opts []cel.ProgramOption
	if needsCostTracking(ast.NativeRep()) {
		opts = append(opts, cel.CostLimit(CostLimit))
	}
	prg, err := env.Program(ast, opts...)
	if err != nil {
		return nil, reportAt(expr, "%v", err)
	}
	f.prg = prg
	f.now = nowFunc(time.Now())
	return f, nil
}

// String returns the expression.
func (f *Filter) String() string {
	if f == nil {
		return ""
	}
	return f.expr
}

// MatchesAll reports whether the filter matches every record (an empty expression, or
// a nil *Filter).
func (f *Filter) MatchesAll() bool { return f == nil || f.prg == nil }

// Errors returns the number of evaluations that failed at run time.
func (f *Filter) Errors() uint64 {
	if f == nil {
		return 0
	}
	return f.errors.Load()
}

// Match evaluates the filter against rec. A run-time error (a missing map key, the
// cost limit) means no match: Match returns false and an *EvalError, and counts it in
// Errors. A nil *Filter matches everything.
func (f *Filter) Match(rec *Record) (bool, error) {
	if f.MatchesAll() {
		return true, nil
	}
	a := getActivation(rec, f.now)
	out, _, err := f.prg.Eval(a)
	putActivation(a)
	return f.result(out, err)
}

// MatchContext is Match with cancellation: when ctx is done, a running evaluation stops
// at its next interrupt check (every 100 comprehension iterations) with an error
// wrapping ctx's cause, which is not counted in Errors. It costs a few hundred
// nanoseconds more than Match; use it when evaluations may be long (filters with
// comprehensions) and the caller may go away.
func (f *Filter) MatchContext(ctx context.Context, rec *Record) (bool, error) {
	if f.MatchesAll() {
		return true, nil
	}
	if ctx.Err() != nil {
		return false, context.Cause(ctx)
	}
	a := getActivation(rec, f.now)
	out, _, err := f.prg.ContextEval(ctx, a)
	putActivation(a)
	if err != nil && ctx.Err() != nil {
		return false, err // cancelled: not the filter's fault, not counted
	}
	return f.result(out, err)
}

func (f *Filter) result(out any, err error) (bool, error) {
	if err != nil {
		f.errors.Add(1)
		var cancelled interpreter.EvalCancelledError
		if errors.As(err, &cancelled) && cancelled.Cause == interpreter.CostLimitExceeded {
			err = fmt.Errorf("%w of %d operations", ErrCostLimit, CostLimit)
		}
		return false, &EvalError{Err: err}
	}
	return out == types.True, nil
}

// newError converts cel-go issues into an *Error.
func newError(expr string, errs []*common.Error) *Error {
	src := common.NewTextSource(expr)
	all := common.NewErrors(src)
	e := &Error{Expr: expr}
	for _, ce := range errs {
		loc := ce.Location
		if loc.Line() < 1 { // not about one place (e.g. the expression is too long)
			loc = common.NewLocation(1, 0)
		}
		all.ReportErrorAtID(ce.ExprID, loc, "%s", ce.Message)
	}
	for _, ce := range all.GetErrors() {
		e.Issues = append(e.Issues, Issue{Line: ce.Location.Line(), Column: ce.Location.Column() + 1, Message: ce.Message})
	}
	e.text = all.ToDisplayString()
	return e
}

// reportAt builds an *Error about the whole expression, located at its first
// non-blank character.
func reportAt(expr string, format string, args ...any) *Error {
	src := common.NewTextSource(expr)
	start := len(expr) - len(strings.TrimLeft(expr, " \t\r\n"))
	loc, ok := src.OffsetLocation(int32(len([]rune(expr[:start]))))
	if !ok {
		loc = common.NewLocation(1, 0)
	}
	return newError(expr, []*common.Error{{Location: loc, Message: fmt.Sprintf(format, args...)}})
}

// needsCostTracking reports whether an evaluation of e could cost more than the size
// of the expression times the size of the record's values. That is the case when e has
// a comprehension (all, exists, map, ...) or calls a function that can build values
// larger than its inputs (string, bytes or list concatenation, replace, join, ...):
// chained, those grow quadratically or worse. Everything else (logic, comparisons,
// arithmetic, size, contains, matches with a precompiled or linear-time RE2 pattern,
// indexing, map_get, time accessors) is evaluated at most once per node in time linear
// in its inputs, and runs without the overhead of cost tracking.
func needsCostTracking(a *celast.AST) bool {
	needed := false
	celast.PreOrderVisit(a.Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		switch e.Kind() {
		case celast.ComprehensionKind:
			needed = true
		case celast.CallKind:
			fn := e.AsCall().FunctionName()
			if fn == "_+_" {
				switch a.GetType(e.ID()).Kind() {
				case types.IntKind, types.UintKind, types.DoubleKind, types.TimestampKind, types.DurationKind:
					return
				}
				needed = true
			} else if !linearFunctions[fn] {
				needed = true
			}
		}
	}))
	return needed
}

// linearFunctions are the functions whose result is no larger than their inputs and
// whose cost is linear in them.
var linearFunctions = map[string]bool{}

func init() {
	for _, fn := range strings.Fields(`
		_&&_ _||_ !_ _?_:_ @not_strictly_false
		_==_ _!=_ _<_ _<=_ _>_ _>=_ @in _[_]
		_-_ _*_ _/_ _%_ -_
		size contains startsWith endsWith matches
		lowerAscii upperAscii trim charAt indexOf lastIndexOf substring reverse
		int uint double string bytes bool dyn type timestamp duration
		getFullYear getMonth getDate getDayOfMonth getDayOfYear getDayOfWeek
		getHours getMinutes getSeconds getMilliseconds
		map_get now`) {
		linearFunctions[fn] = true
	}
}

// estimator leaves every size and call cost to cel-go's defaults: variables have
// unknown sizes, so only expressions that are expensive whatever the record (nested
// comprehensions over literal ranges, ...) fail the compile-time check.
type estimator struct{}

func (estimator) EstimateSize(cost.AstNode) *cost.SizeEstimate { return nil }

func (estimator) EstimateCallCost(string, string, *cost.AstNode, []cost.AstNode) *cost.CallEstimate {
	return nil
}
