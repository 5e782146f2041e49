package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	hostapi "github.com/filegate/filegate/hostapi/v1"
)

// The rules engine's durable state: per rule a cursor into the event log, the runs
// (one per matching event, or per scheduled due time) with their status and lease,
// every attempt of a run, and the next due time of each scheduled rule. All of it is
// shared by the nodes of one database, which claim work with conditional UPDATEs
// (and FOR UPDATE SKIP LOCKED on PostgreSQL), so each run is worked on by one node at
// a time and a dead node's runs are taken over once their lease expires.

// Run statuses.
const (
	RunPending = "pending" // waiting for a worker, possibly until NextAt (a retry's backoff)
	RunRunning = "running" // claimed by Owner until LeaseUntil
	RunDone    = "done"    // the plugin returned no error
	RunFailed  = "failed"  // parked after the rule's max attempts; retryable by hand
)

// ErrConflict is returned for a state change the row's current state does not allow.
var ErrConflict = errors.New("conflict")

// Run is one unit of rule work: an event to hand to a rule, or one scheduled run.
type Run struct {
	ID         int64
	Rule       string
	TenantID   int64  // the event's tenant; 0 for a scheduled run
	EventID    int64  // 0 for a scheduled run
	Path       string // the event's path; "" for a scheduled run. Runs of one rule and path run in order.
	DueAt      time.Time
	Status     string
	Attempts   int
	NextAt     time.Time // when a pending run may next be tried
	LeaseUntil time.Time
	Owner      string // the node working on a running run
	LastError  string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Scheduled reports whether the run comes from a schedule rather than an event.
func (r Run) Scheduled() bool { return r.EventID == 0 }

const runCols = `id, rule, tenant_id, event_id, path, due_at, status, attempts, next_at, lease_until, owner, last_error, created_at, updated_at`

func scanRun(row interface{ Scan(...any) error }) (Run, error) {
	var r Run
	var due, next, lease, created, updated int64
	err := row.Scan(&r.ID, &r.Rule, &r.TenantID, &r.EventID, &r.Path, &due, &r.Status, &r.Attempts, &next, &lease, &r.Owner, &r.LastError, &created, &updated)
	r.DueAt, r.NextAt, r.LeaseUntil, r.CreatedAt, r.UpdatedAt = fromMS(due), fromMS(next), fromMS(lease), fromMS(created), fromMS(updated)
	return r, err
}

// forUpdate is the row-locking clause of a SELECT inside a write transaction: needed
// on PostgreSQL, where several nodes write at once; SQLite's write transactions
// already exclude each other.
func (s *Store) forUpdate(skipLocked bool) string {
	if s.d.Name() != "postgres" {
		return ""
	}
	if skipLocked {
		return " FOR UPDATE SKIP LOCKED"
	}
	return " FOR UPDATE"
}

// EnsureCursors gives each named rule that has none a cursor at the end of the event
// log, so that a new rule handles the events recorded from now on.
func (s *Store) EnsureCursors(ctx context.Context, rules []string) error {
	for _, r := range rules {
		// "WHERE true": SQLite cannot otherwise tell ON CONFLICT from a join clause.
		if _, err := s.exec(ctx, `INSERT INTO rule_cursors (rule, last_event_id) SELECT ?, COALESCE(MAX(id), 0) FROM events WHERE true ON CONFLICT (rule) DO NOTHING`, r); err != nil {
			return fmt.Errorf("store: rule %q cursor: %w", r, err)
		}
	}
	return nil
}

// DispatchRule is one rule as Dispatch sees it.
type DispatchRule struct {
	Name string
	// Match reports whether the rule handles an event of tenantID.
	Match func(tenantID int64, ev hostapi.Event) bool
}

// Horizon tells Dispatch how far it may consume the log. ids are the ids of the events
// read after the lowest cursor, ascending; Horizon returns the id up to which events
// are complete (a gap before it can no longer be filled by a transaction still in
// flight), which may be after, the lowest cursor itself.
type Horizon func(after int64, ids []int64) int64

// Dispatch turns events into runs: in one transaction it locks the rules' cursors,
// reads up to limit events after the lowest, inserts a pending run for each (rule,
// event) the rule matches and moves each cursor to the horizon. A crash before the
// commit loses nothing and a repeat creates no duplicate (one run per rule and event),
// so every event reaches every rule at least once. It returns the number of runs
// created per rule and how many events it read.
func (s *Store) Dispatch(ctx context.Context, rules []DispatchRule, limit int, horizon Horizon) (created map[string]int, read int, err error) {
	if len(rules) == 0 {
		return nil, 0, nil
	}
	created = map[string]int{}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		names := make([]any, len(rules))
		for i, r := range rules {
			names[i] = r.Name
		}
		rows, err := tx.QueryContext(ctx, s.d.Rebind(`SELECT rule, last_event_id FROM rule_cursors WHERE rule IN (`+placeholders(len(rules))+`) ORDER BY rule`+s.forUpdate(false)), names...)
		if err != nil {
			return err
		}
		cursors := map[string]int64{}
		for rows.Next() {
			var name string
			var last int64
			if err := rows.Scan(&name, &last); err != nil {
				rows.Close()
				return err
			}
			cursors[name] = last
		}
		if err := rows.Close(); err != nil {
			return err
		}
		low := int64(-1)
		for _, r := range rules {
			c, ok := cursors[r.Name]
			if !ok {
				return fmt.Errorf("rule %q has no cursor: call EnsureCursors first", r.Name)
			}
			if low < 0 || c < low {
				low = c
			}
		}
		events, err := s.eventsAfter(ctx, tx, low, limit)
		if err != nil {
			return err
		}
		read = len(events)
		ids := make([]int64, len(events))
		for i, e := range events {
			ids[i] = e.ID
		}
		upto := horizon(low, ids)
		var ins runInserter
		t := ms(now())
		for _, r := range rules {
			c := cursors[r.Name]
			for _, e := range events {
				if e.ID <= c || e.ID > upto || !r.Match(e.tenantID, e.Event) {
					continue
				}
				ins.add(r.Name, e.tenantID, e.ID, e.Path, ms(e.Time), t)
				created[r.Name]++
			}
			if upto > c {
				if _, err := tx.ExecContext(ctx, s.d.Rebind(`UPDATE rule_cursors SET last_event_id = ? WHERE rule = ?`), upto, r.Name); err != nil {
					return err
				}
			}
		}
		return ins.flush(ctx, s, tx)
	})
	if err != nil {
		return nil, 0, fmt.Errorf("store: dispatch events to rules: %w", err)
	}
	return created, read, nil
}

// runInserter batches the INSERTs of new runs into multi-row statements.
type runInserter struct{ args []any }

const runInsertCols = 7

func (in *runInserter) add(rule string, tenantID, eventID int64, path string, due, t int64) {
	in.args = append(in.args, rule, tenantID, eventID, path, due, t, t)
}

func (in *runInserter) flush(ctx context.Context, s *Store, tx *sql.Tx) error {
	const perStmt = 200
	for len(in.args) > 0 {
		n := min(len(in.args)/runInsertCols, perStmt)
		rows := strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, 'pending', 0, ?, 0, '', '', ?, ?),", n), ",")
		args := make([]any, 0, n*(runInsertCols+1))
		for i := range n {
			a := in.args[i*runInsertCols : (i+1)*runInsertCols]
			args = append(args, a[0], a[1], a[2], a[3], a[4], a[5], a[5], a[6]) // next_at and created_at = now
		}
		q := `INSERT INTO rule_runs (rule, tenant_id, event_id, path, due_at, status, attempts, next_at, lease_until, owner, last_error, created_at, updated_at) VALUES ` +
			rows + ` ON CONFLICT DO NOTHING`
		if _, err := tx.ExecContext(ctx, s.d.Rebind(q), args...); err != nil {
			return err
		}
		in.args = in.args[n*runInsertCols:]
	}
	return nil
}

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }

// tenantEvent is an event with its tenant.
type tenantEvent struct {
	hostapi.Event
	tenantID int64
}

const eventCols = `id, tenant_id, time, type, protocol, account, path, from_path, size, sha256, remote_addr, is_dir, done, total`

func scanTenantEvent(row interface{ Scan(...any) error }) (tenantEvent, error) {
	var e tenantEvent
	var t int64
	var isDir int
	err := row.Scan(&e.ID, &e.tenantID, &t, &e.Type, &e.Protocol, &e.Account, &e.Path, &e.From, &e.Size, &e.SHA256, &e.RemoteAddr, &isDir, &e.Done, &e.Total)
	e.Time, e.IsDir = fromMS(t), isDir != 0
	return e, err
}

func (s *Store) eventsAfter(ctx context.Context, tx *sql.Tx, after int64, limit int) ([]tenantEvent, error) {
	rows, err := tx.QueryContext(ctx, s.d.Rebind(`SELECT `+eventCols+` FROM events WHERE id > ? ORDER BY id LIMIT ?`), after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []tenantEvent
	for rows.Next() {
		e, err := scanTenantEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// ClaimRuns claims up to limit runs of rule for owner until now+lease: pending runs that
// are due, and running runs whose lease has expired (their node died). A run waits
// while an earlier run of the same rule and path is pending or running, so one path's
// runs happen in order. Each claim counts as an attempt.
func (s *Store) ClaimRuns(ctx context.Context, rule, owner string, at time.Time, lease time.Duration, limit int) ([]Run, error) {
	t := ms(at)
	q := `UPDATE rule_runs SET status = 'running', owner = ?, lease_until = ?, attempts = attempts + 1, updated_at = ?
		WHERE id IN (
			SELECT r.id FROM rule_runs r
			WHERE r.rule = ? AND r.status IN ('pending', 'running')
			AND (r.status = 'pending' AND r.next_at <= ? OR r.status = 'running' AND r.lease_until < ?)
			AND NOT EXISTS (SELECT 1 FROM rule_runs p WHERE p.rule = r.rule AND p.path = r.path AND p.id < r.id AND p.status IN ('pending', 'running'))
			ORDER BY r.id LIMIT ?` + s.forUpdate(true) + `
		) AND (status = 'pending' OR lease_until < ?)
		RETURNING ` + runCols
	rows, err := s.w.QueryContext(ctx, s.d.Rebind(q), owner, ms(at.Add(lease)), t, rule, t, t, limit, t)
	if err != nil {
		return nil, fmt.Errorf("store: claim runs of rule %q: %w", rule, err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// RunEvents returns the events of runs, by event id.
func (s *Store) RunEvents(ctx context.Context, runs []Run) (map[int64]hostapi.Event, error) {
	var ids []any
	for _, r := range runs {
		if r.EventID > 0 {
			ids = append(ids, r.EventID)
		}
	}
	out := make(map[int64]hostapi.Event, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.query(ctx, `SELECT `+eventCols+` FROM events WHERE id IN (`+placeholders(len(ids))+`)`, ids...)
	if err != nil {
		return nil, fmt.Errorf("store: events of runs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanTenantEvent(rows)
		if err != nil {
			return nil, err
		}
		out[e.ID] = e.Event
	}
	return out, rows.Err()
}

// Attempt is one try of a run: for a webhook, one delivery.
type Attempt struct {
	ID         int64
	RunID      int64
	EventID    int64
	Path       string
	Attempt    int // 1 for the first try
	StartedAt  time.Time
	DurationMs int64
	StatusCode int    // the HTTP status of the rule's last outbound request, 0 if none
	Error      string // "" when the try succeeded
}

// Outcome is how one attempt of a run ended.
type Outcome struct {
	Attempt Attempt
	// Status is RunDone, RunFailed (parked), or RunPending to retry at RetryAt.
	Status  string
	RetryAt time.Time
}

// Finish is one finished attempt of a run claimed by Owner.
type Finish struct {
	Run     Run
	Owner   string
	Outcome Outcome
}

// FinishRun records one attempt of a run claimed by owner and moves the run to its
// next status (see FinishRuns).
func (s *Store) FinishRun(ctx context.Context, run Run, owner string, o Outcome) error {
	return s.FinishRuns(ctx, []Finish{{Run: run, Owner: owner, Outcome: o}})[0]
}

// FinishRuns records the attempts of several runs and moves each to its next status,
// all in one transaction: a busy engine finishes many runs at once, and on SQLite every
// write transaction queues behind the others, uploads' events included. It returns one
// error per run: if a run's lease was lost meanwhile (another node took it over) its
// attempt is still recorded but the run is left to its new owner, and its error matches
// ErrConflict.
func (s *Store) FinishRuns(ctx context.Context, fs []Finish) []error {
	errs := make([]error, len(fs))
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for i, f := range fs {
			a := f.Outcome.Attempt
			if _, err := tx.ExecContext(ctx, s.d.Rebind(`INSERT INTO rule_attempts (run_id, attempt, started_at, duration_ms, status_code, error) VALUES (?, ?, ?, ?, ?, ?)`),
				f.Run.ID, f.Run.Attempts, ms(a.StartedAt), a.DurationMs, a.StatusCode, a.Error); err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, s.d.Rebind(`UPDATE rule_runs SET status = ?, next_at = ?, lease_until = 0, last_error = ?, updated_at = ?
				WHERE id = ? AND owner = ? AND attempts = ? AND status = 'running'`),
				f.Outcome.Status, ms(f.Outcome.RetryAt), a.Error, ms(now()), f.Run.ID, f.Owner, f.Run.Attempts)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err == nil && n == 0 {
				errs[i] = fmt.Errorf("store: run %d of rule %q: lease lost to another node: %w", f.Run.ID, f.Run.Rule, ErrConflict)
			}
		}
		return nil
	})
	if err != nil {
		for i, f := range fs {
			errs[i] = fmt.Errorf("store: finish run %d of rule %q: %w", f.Run.ID, f.Run.Rule, err)
		}
	}
	return errs
}

// RetryRun puts a parked (failed) run of rule back in the queue with a fresh count of
// attempts.
func (s *Store) RetryRun(ctx context.Context, rule string, id int64, at time.Time) (Run, error) {
	row := s.w.QueryRowContext(ctx, s.d.Rebind(`UPDATE rule_runs SET status = 'pending', attempts = 0, next_at = ?, updated_at = ?
		WHERE id = ? AND rule = ? AND status = 'failed' RETURNING `+runCols), ms(at), ms(now()), id, rule)
	r, err := scanRun(row)
	if errors.Is(err, sql.ErrNoRows) {
		cur, err := s.Run(ctx, rule, id)
		if err != nil {
			return Run{}, err
		}
		return Run{}, fmt.Errorf("run %d of rule %q is %s, not failed: only failed runs can be retried: %w", id, rule, cur.Status, ErrConflict)
	}
	if err != nil {
		return Run{}, fmt.Errorf("store: retry run %d of rule %q: %w", id, rule, err)
	}
	return r, nil
}

// Run returns one run of rule.
func (s *Store) Run(ctx context.Context, rule string, id int64) (Run, error) {
	r, err := scanRun(s.queryRow(ctx, `SELECT `+runCols+` FROM rule_runs WHERE id = ? AND rule = ?`, id, rule))
	return r, notFound(err, fmt.Sprintf("run %d of rule %q", id, rule))
}

// RunFilter selects runs of one rule.
type RunFilter struct {
	Rule string
	// TenantID keeps the runs of this tenant's events and the scheduled runs; 0 keeps all.
	TenantID int64
	Status   string // "" for all
	Limit    int
	Offset   int
}

// Runs pages a rule's runs, newest first, with the number that match.
func (s *Store) Runs(ctx context.Context, f RunFilter) ([]Run, int, error) {
	where, args := []string{"rule = ?"}, []any{f.Rule}
	if f.TenantID != 0 {
		where, args = append(where, "tenant_id IN (0, ?)"), append(args, f.TenantID)
	}
	if f.Status != "" {
		where, args = append(where, "status = ?"), append(args, f.Status)
	}
	cond := strings.Join(where, " AND ")
	var total int
	if err := s.queryRow(ctx, `SELECT COUNT(*) FROM rule_runs WHERE `+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: runs of rule %q: %w", f.Rule, err)
	}
	rows, err := s.query(ctx, `SELECT `+runCols+` FROM rule_runs WHERE `+cond+` ORDER BY id DESC LIMIT ? OFFSET ?`, append(args, f.Limit, f.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("store: runs of rule %q: %w", f.Rule, err)
	}
	defer rows.Close()
	out := []Run{}
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, r)
	}
	return out, total, rows.Err()
}

// RunCounts counts a rule's runs by status (for tenantID's events and scheduled runs;
// 0 for all tenants).
func (s *Store) RunCounts(ctx context.Context, rule string, tenantID int64) (map[string]int, error) {
	q, args := `SELECT status, COUNT(*) FROM rule_runs WHERE rule = ?`, []any{rule}
	if tenantID != 0 {
		q, args = q+` AND tenant_id IN (0, ?)`, append(args, tenantID)
	}
	rows, err := s.query(ctx, q+` GROUP BY status`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: run counts of rule %q: %w", rule, err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, err
		}
		out[st] = n
	}
	return out, rows.Err()
}

// Attempts pages the attempts of a rule's runs, newest first (a webhook's deliveries
// log), with the number there are.
func (s *Store) Attempts(ctx context.Context, rule string, limit, offset int) ([]Attempt, int, error) {
	var total int
	if err := s.queryRow(ctx, `SELECT COUNT(*) FROM rule_attempts a JOIN rule_runs r ON r.id = a.run_id WHERE r.rule = ?`, rule).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: attempts of rule %q: %w", rule, err)
	}
	rows, err := s.query(ctx, `SELECT a.id, a.run_id, r.event_id, r.path, a.attempt, a.started_at, a.duration_ms, a.status_code, a.error
		FROM rule_attempts a JOIN rule_runs r ON r.id = a.run_id WHERE r.rule = ? ORDER BY a.id DESC LIMIT ? OFFSET ?`, rule, limit, offset)
	if err != nil {
		return nil, 0, fmt.Errorf("store: attempts of rule %q: %w", rule, err)
	}
	defer rows.Close()
	out := []Attempt{}
	for rows.Next() {
		var a Attempt
		var started int64
		if err := rows.Scan(&a.ID, &a.RunID, &a.EventID, &a.Path, &a.Attempt, &started, &a.DurationMs, &a.StatusCode, &a.Error); err != nil {
			return nil, 0, err
		}
		a.StartedAt = fromMS(started)
		out = append(out, a)
	}
	return out, total, rows.Err()
}

// ClaimSchedule makes the scheduled rule's due run, once across every node: if the
// stored due time has come, it is moved to next(at) and a pending run for it is
// inserted, in one transaction. The first call only stores next(at). A stored time
// later than next(at) (the schedule was changed to run more often) is brought forward.
// It returns the due time now stored and whether this call created a run.
func (s *Store) ClaimSchedule(ctx context.Context, rule string, at time.Time, next func(time.Time) time.Time) (nextAt time.Time, created bool, err error) {
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var stored int64
		err := tx.QueryRowContext(ctx, s.d.Rebind(`SELECT next_at FROM rule_schedules WHERE rule = ?`+s.forUpdate(false)), rule).Scan(&stored)
		upcoming := next(at)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			nextAt = upcoming
			_, err = tx.ExecContext(ctx, s.d.Rebind(`INSERT INTO rule_schedules (rule, next_at) VALUES (?, ?) ON CONFLICT (rule) DO NOTHING`), rule, ms(nextAt))
			return err
		case err != nil:
			return err
		}
		due := fromMS(stored)
		if due.After(at) {
			nextAt = due
			if due.After(upcoming) {
				nextAt = upcoming
				_, err = tx.ExecContext(ctx, s.d.Rebind(`UPDATE rule_schedules SET next_at = ? WHERE rule = ?`), ms(nextAt), rule)
			}
			return err
		}
		nextAt, created = upcoming, true
		if _, err := tx.ExecContext(ctx, s.d.Rebind(`UPDATE rule_schedules SET next_at = ? WHERE rule = ?`), ms(nextAt), rule); err != nil {
			return err
		}
		var ins runInserter
		ins.add(rule, 0, 0, "", ms(due), ms(now()))
		return ins.flush(ctx, s, tx)
	})
	if err != nil {
		return time.Time{}, false, fmt.Errorf("store: schedule of rule %q: %w", rule, err)
	}
	return nextAt, created, nil
}

// PruneRuns deletes finished (done) runs last updated before cutoff, with their
// attempts, and returns how many went. Failed runs stay until retried.
func (s *Store) PruneRuns(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := s.exec(ctx, `DELETE FROM rule_runs WHERE status = 'done' AND updated_at < ?`, ms(cutoff))
	if err != nil {
		return 0, fmt.Errorf("store: prune rule runs: %w", err)
	}
	return res.RowsAffected()
}

// Driver is the database in use: "sqlite" or "postgres".
func (s *Store) Driver() string { return s.d.Name() }

// LastEventID is the id of the newest event, 0 for an empty log. It reads the read
// pool only, so the dispatcher can poll it without taking SQLite's write lock.
func (s *Store) LastEventID(ctx context.Context) (int64, error) {
	var id int64
	if err := s.queryRow(ctx, `SELECT COALESCE(MAX(id), 0) FROM events`).Scan(&id); err != nil {
		return 0, fmt.Errorf("store: last event id: %w", err)
	}
	return id, nil
}

// NextRunAt is the earliest time a run of rule may become claimable: the due time of
// its next pending run or the lease end of a running one. ok is false when the rule
// has no pending or running run. It reads only, so idle workers can poll it cheaply.
func (s *Store) NextRunAt(ctx context.Context, rule string) (at time.Time, ok bool, err error) {
	var v sql.NullInt64
	err = s.queryRow(ctx, `SELECT MIN(CASE WHEN status = 'pending' THEN next_at ELSE lease_until END) FROM rule_runs WHERE rule = ? AND status IN ('pending', 'running')`, rule).Scan(&v)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("store: next run of rule %q: %w", rule, err)
	}
	return time.UnixMilli(v.Int64), v.Valid, nil
}
