// Package rules is the rules engine: it turns the durable event log into runs of rule
// plugins, at least once each, in order per path, with retries and exponential
// backoff, parking a run as failed after its rule's max attempts; and it runs
// scheduled rules. Every step is a row in the store, claimed with a lease, so several
// nodes sharing PostgreSQL split the work and a dead node's runs are taken over.
//
// Front ends never wait on rules: they only append to the event log, which the
// engine's dispatcher reads on its own.
package rules

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/filegate/filegate/core/rules/trigger"
	"github.com/filegate/filegate/core/store"
	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// Spec is one rule: from gateway.toml, or made from a webhook by WebhookSpec.
type Spec struct {
	Name     string
	Plugin   string // a builtin name, a .wasm path or an executable path
	Events   []string
	Paths    []trigger.Glob   // none means every path
	Schedule trigger.Schedule // nil for an event-only rule
	Tenants  []int64          // the tenants whose events the rule sees
	Allow    []string         // the grants
	Config   map[string]any   // the plugin's config table
	Limits   Limits
	Disabled bool   // a disabled rule's cursor follows the log but it gets no runs
	version  string // changes when a webhook is edited
}

// Limits bound how a rule runs.
type Limits struct {
	MaxAttempts int           // tries before a run is parked as failed
	Timeout     time.Duration // per plugin call
	Concurrency int           // runs at once on this node
	Backoff     time.Duration // before the first retry; doubles each time up to MaxBackoff
}

// MaxBackoff caps the wait between two tries of a run.
const MaxBackoff = time.Hour

// matches reports whether the rule handles ev of tenantID.
func (s *Spec) matches(tenantID int64, ev hostapi.Event) bool {
	if s.Disabled || len(s.Events) == 0 || !slices.Contains(s.Tenants, tenantID) || !slices.Contains(s.Events, ev.Type) {
		return false
	}
	if len(s.Paths) == 0 {
		return true
	}
	for _, g := range s.Paths {
		if g.Match(ev.Path) || (ev.From != "" && g.Match(ev.From)) {
			return true
		}
	}
	return false
}

// Runner is a loaded rule plugin (*plugin.Plugin is one).
type Runner interface {
	OnEvent(ctx context.Context, ev hostapi.Event) error
	OnSchedule(ctx context.Context, run hostapi.Run) error
	Close(ctx context.Context) error
}

// Loader loads the plugin of a rule, bound to its grants. For the attempts log to show
// HTTP status codes, the plugin's HTTP client should use Transport.
type Loader func(ctx context.Context, spec Spec) (Runner, error)

// Options configure an Engine.
type Options struct {
	Store *store.Store
	Load  Loader
	Log   *slog.Logger
	// Poll is how often the dispatcher looks for new events and idle workers for due
	// retries; default 100 ms.
	Poll time.Duration
	// GapWait is how long the dispatcher waits for a hole in the event ids to fill
	// before skipping it. On SQLite ids commit in order and it is 0; on PostgreSQL a
	// concurrent transaction may commit a lower id later, so it waits (default 15 s).
	GapWait time.Duration
	// Webhooks turns the store's webhooks into rules; nil serves none.
	Webhooks func(store.Webhook) (Spec, error)
	// Keep is how long finished runs stay visible; default 7 days.
	Keep time.Duration
}

// Engine runs rules. Create it with New (which loads every plugin, so a bad rule stops
// the gateway before it serves) and run it with Run.
type Engine struct {
	opt   Options
	owner string // this node, in the leases it takes
	log   *slog.Logger

	mu     sync.Mutex
	rules  map[string]*rule // by name
	static []string         // the gateway.toml rules' names, in config order

	dispatchWake chan struct{}
	syncWake     chan struct{}
	gaps         map[int64]time.Time // first missing id of a hole → when first seen

	runCtx   context.Context // set by Run: the workers' parent
	wg       sync.WaitGroup  // the workers
	finisher *finisher       // records the workers' outcomes in batches
}

// rule is one loaded rule and its worker.
type rule struct {
	spec   Spec
	runner Runner
	wake   chan struct{}
	stop   context.CancelFunc // ends the worker; nil before Run starts it
	done   chan struct{}
}

// New loads the rules of specs and creates their cursors (at the end of the log, for
// rules new to this database), so that events recorded from now on reach them.
func New(ctx context.Context, opt Options, specs []Spec) (*Engine, error) {
	if opt.Poll <= 0 {
		opt.Poll = 100 * time.Millisecond
	}
	if opt.Keep <= 0 {
		opt.Keep = 7 * 24 * time.Hour
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.GapWait == 0 && opt.Store.Driver() == "postgres" {
		opt.GapWait = 15 * time.Second
	}
	host, _ := os.Hostname()
	var b [4]byte
	rand.Read(b[:])
	e := &Engine{opt: opt, owner: fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b[:])), log: opt.Log.With("component", "rules"),
		rules: map[string]*rule{}, dispatchWake: make(chan struct{}, 1), syncWake: make(chan struct{}, 1), gaps: map[int64]time.Time{},
		finisher: newFinisher(opt.Store)}
	var names []string
	for _, s := range specs {
		r, err := e.load(ctx, s)
		if err != nil {
			e.closeAll(ctx)
			return nil, err
		}
		e.rules[s.Name] = r
		e.static = append(e.static, s.Name)
		names = append(names, s.Name)
	}
	if err := opt.Store.EnsureCursors(ctx, names); err != nil {
		e.closeAll(ctx)
		return nil, err
	}
	return e, nil
}

func (e *Engine) load(ctx context.Context, s Spec) (*rule, error) {
	s.Limits = s.Limits.withDefaults()
	var runner Runner
	if !s.Disabled {
		var err error
		if runner, err = e.opt.Load(ctx, s); err != nil {
			return nil, fmt.Errorf("rule %q: %w", s.Name, err)
		}
	}
	return &rule{spec: s, runner: runner, wake: make(chan struct{}, 1)}, nil
}

func (l Limits) withDefaults() Limits {
	if l.MaxAttempts <= 0 {
		l.MaxAttempts = 8
	}
	if l.Timeout <= 0 {
		l.Timeout = 30 * time.Second
	}
	if l.Concurrency <= 0 {
		l.Concurrency = 4
	}
	if l.Backoff <= 0 {
		l.Backoff = time.Second
	}
	return l
}

// Run dispatches events and runs rules until ctx ends, then stops every worker, waits
// for the runs in flight (their contexts are cancelled) and closes the plugins.
func (e *Engine) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopFinisher, finisherDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finisherDone)
		e.finisher.run(stopFinisher)
	}()
	e.mu.Lock()
	e.runCtx = ctx
	for _, r := range e.rules {
		e.startLocked(r)
	}
	e.mu.Unlock()
	e.syncWebhooks(ctx)

	var wg sync.WaitGroup
	for _, loop := range []func(context.Context){e.dispatchLoop, e.scheduleLoop, e.maintainLoop} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			loop(ctx)
		}()
	}
	<-ctx.Done()
	wg.Wait()
	e.wg.Wait() // no worker is left to finish a run
	close(stopFinisher)
	<-finisherDone
	e.closeAll(context.WithoutCancel(ctx))
	return nil
}

// startLocked starts r's worker under the engine's run context (e.mu held).
func (e *Engine) startLocked(r *rule) {
	if e.runCtx == nil || r.runner == nil || r.stop != nil {
		return
	}
	ctx, stop := context.WithCancel(e.runCtx)
	r.stop, r.done = stop, make(chan struct{})
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer close(r.done)
		e.work(ctx, r)
	}()
	wakeUp(r.wake)
}

// stopRule ends r's worker, waits for it and closes its plugin.
func (e *Engine) stopRule(ctx context.Context, r *rule) {
	if r.stop != nil {
		r.stop()
		<-r.done
	}
	if r.runner != nil {
		if err := r.runner.Close(ctx); err != nil {
			e.log.Warn("closing a rule plugin", "rule", r.spec.Name, "err", err)
		}
	}
}

func (e *Engine) closeAll(ctx context.Context) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for name, r := range e.rules {
		if r.runner != nil {
			r.runner.Close(ctx)
		}
		delete(e.rules, name)
	}
}

func wakeUp(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Info describes a rule for the Management API.
type Info struct {
	Name     string
	Plugin   string
	Events   []string
	Paths    []string
	Schedule string
	Limits   Limits
}

// Rules lists the gateway.toml rules (webhooks are listed as webhooks).
func (e *Engine) Rules() []Info {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Info, 0, len(e.static))
	for _, name := range e.static {
		if r, ok := e.rules[name]; ok {
			out = append(out, r.spec.info())
		}
	}
	return out
}

func (s Spec) info() Info {
	in := Info{Name: s.Name, Plugin: s.Plugin, Events: s.Events, Paths: []string{}, Limits: s.Limits}
	if in.Events == nil {
		in.Events = []string{}
	}
	for _, g := range s.Paths {
		in.Paths = append(in.Paths, g.String())
	}
	if s.Schedule != nil {
		in.Schedule = s.Schedule.String()
	}
	return in
}

// Retry puts a failed run back in its rule's queue.
func (e *Engine) Retry(ctx context.Context, name string, id int64) (store.Run, error) {
	run, err := e.opt.Store.RetryRun(ctx, name, id, time.Now())
	if err != nil {
		return store.Run{}, err
	}
	e.mu.Lock()
	if r, ok := e.rules[name]; ok {
		wakeUp(r.wake)
	}
	e.mu.Unlock()
	return run, nil
}

// WebhooksChanged makes the engine re-read the webhooks now rather than at its next
// periodic look (which catches changes made on other nodes).
func (e *Engine) WebhooksChanged() { wakeUp(e.syncWake) }

// syncWebhooks brings the webhook rules in line with the store: new ones loaded,
// edited ones reloaded, deleted ones stopped.
func (e *Engine) syncWebhooks(ctx context.Context) {
	if e.opt.Webhooks == nil {
		return
	}
	hooks, err := e.opt.Store.AllWebhooks(ctx)
	if err != nil {
		e.log.Error("reading webhooks", "err", err)
		return
	}
	want := map[string]Spec{}
	for _, w := range hooks {
		s, err := e.opt.Webhooks(w)
		if err != nil {
			e.log.Error("webhook cannot be served", "webhook", w.ID, "err", err)
			continue
		}
		s.version = w.UpdatedAt.String() + fmt.Sprint(w.Enabled)
		want[s.Name] = s
	}
	e.mu.Lock()
	var stale []*rule
	for name, r := range e.rules {
		if slices.Contains(e.static, name) {
			continue
		}
		if s, ok := want[name]; !ok || s.version != r.spec.version {
			stale = append(stale, r)
			delete(e.rules, name)
		}
	}
	e.mu.Unlock()
	for _, r := range stale {
		e.stopRule(ctx, r)
	}
	names := make([]string, 0, len(want))
	for name := range want {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		e.mu.Lock()
		_, have := e.rules[name]
		e.mu.Unlock()
		if have {
			continue
		}
		r, err := e.load(ctx, want[name])
		if err != nil {
			e.log.Error("loading a webhook", "rule", name, "err", err)
			continue
		}
		e.mu.Lock()
		e.rules[name] = r
		e.startLocked(r)
		e.mu.Unlock()
	}
}

// maintainLoop re-reads webhooks and prunes old finished runs.
func (e *Engine) maintainLoop(ctx context.Context) {
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	lastPrune := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-e.syncWake:
		}
		e.syncWebhooks(ctx)
		if time.Since(lastPrune) > time.Hour {
			lastPrune = time.Now()
			if n, err := e.opt.Store.PruneRuns(ctx, time.Now().Add(-e.opt.Keep)); err != nil && ctx.Err() == nil {
				e.log.Warn("pruning finished rule runs", "err", err)
			} else if n > 0 {
				e.log.Info("pruned finished rule runs", "count", n)
			}
		}
	}
}

// sleep waits for d, a wake-up or the end of ctx; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-wake:
	}
	return true
}

// errStopping is the outcome of a run interrupted by the gateway stopping.
var errStopping = errors.New("interrupted: the gateway is stopping; the run will be tried again")
