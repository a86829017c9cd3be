import { JobRun, type RunOutcome, type RunTrigger } from "@clinic/domain"
import { withMethodSpans } from "@clinic/foundation"
import { SqlClient, SqlSchema, type Statement } from "@effect/sql"
import { Context, DateTime, Effect, Layer, Option, Ref, Schema } from "effect"

/** The run history could not be read or written (the database is unreachable); callers retry. */
export class StoreUnavailable extends Schema.TaggedError<StoreUnavailable>()("StoreUnavailable", {
  message: Schema.String
}) {}

export interface ClaimRequest {
  readonly job: string
  readonly scheduledAt: DateTime.Utc
  readonly trigger: RunTrigger
  readonly replica: string
  readonly now: DateTime.Utc
  readonly leaseUntil: DateTime.Utc
  /** A manual run goes ahead on a paused job; scheduled ticks do not. */
  readonly ignorePause: boolean
}

export interface RunStoreShape {
  /**
   * Claims one tick. `None`: another replica has it. A returned run is `running` (ours to run) or
   * `skipped` (recorded so: the job is paused, or another run of it holds a live lease).
   */
  readonly claim: (request: ClaimRequest) => Effect.Effect<Option.Option<JobRun>, StoreUnavailable>
  /** Records a tick nobody ran; false when the tick already has a row. */
  readonly recordSkip: (
    request: {
      readonly job: string
      readonly scheduledAt: DateTime.Utc
      readonly replica: string
      readonly now: DateTime.Utc
      readonly reason: string
    }
  ) => Effect.Effect<boolean, StoreUnavailable>
  /** Extends our lease; false when the claim is no longer ours (taken over, or finished). */
  readonly renew: (id: number, replica: string, leaseUntil: DateTime.Utc) => Effect.Effect<boolean, StoreUnavailable>
  readonly finish: (
    id: number,
    replica: string,
    end: {
      readonly outcome: Exclude<RunOutcome, "running">
      readonly at: DateTime.Utc
      readonly result: unknown
      readonly error: string | null
    }
  ) => Effect.Effect<boolean, StoreUnavailable>
  /** Running claims of `jobs` whose lease passed before `now`: their holder died. */
  readonly expiredClaims: (
    jobs: ReadonlyArray<string>,
    now: DateTime.Utc
  ) => Effect.Effect<ReadonlyArray<JobRun>, StoreUnavailable>
  /**
   * The earliest lease end, at or after `now`, of a running claim of `jobs` that another replica
   * holds: when a takeover may next be due. `None` when no other replica runs any of them.
   */
  readonly nextLeaseExpiry: (
    jobs: ReadonlyArray<string>,
    replica: string,
    now: DateTime.Utc
  ) => Effect.Effect<Option.Option<DateTime.Utc>, StoreUnavailable>
  /** Takes over an expired claim; `None` when another replica was first or the holder came back. */
  readonly takeOver: (
    id: number,
    replica: string,
    now: DateTime.Utc,
    leaseUntil: DateTime.Utc
  ) => Effect.Effect<Option.Option<JobRun>, StoreUnavailable>
  /** The latest scheduled (not manual) tick any replica handled: where missed-run catch-up starts. */
  readonly lastScheduled: (job: string) => Effect.Effect<Option.Option<DateTime.Utc>, StoreUnavailable>
  readonly recent: (job: string, limit: number) => Effect.Effect<ReadonlyArray<JobRun>, StoreUnavailable>
  /** Pauses (with the operator's reason, if any) or resumes a job for every replica. */
  readonly setPaused: (
    job: string,
    paused: boolean,
    now: DateTime.Utc,
    reason?: string | null
  ) => Effect.Effect<void, StoreUnavailable>
  /** Paused jobs with their pause reasons. */
  readonly pausedJobs: Effect.Effect<ReadonlyMap<string, string | null>, StoreUnavailable>
  /** Runs of every job, newest first, narrowed by job, outcome and scheduled time (`from` inclusive, `to` exclusive). */
  readonly history: (filter: RunFilter) => Effect.Effect<ReadonlyArray<JobRun>, StoreUnavailable>
  /** Records that `replica` is alive: inserted on its first beat, refreshed on each one after. */
  readonly beat: (heartbeat: Heartbeat) => Effect.Effect<void, StoreUnavailable>
  /** Removes a replica's heartbeat row when it stops (a stopped replica is not alive). */
  readonly leave: (replica: string) => Effect.Effect<void, StoreUnavailable>
  /** Replicas seen at or after `since`, most recently started first. */
  readonly replicas: (since: DateTime.Utc) => Effect.Effect<ReadonlyArray<ReplicaRow>, StoreUnavailable>
  /** Deletes finished runs scheduled before `before`; returns how many. */
  readonly prune: (before: DateTime.Utc) => Effect.Effect<number, StoreUnavailable>
}

export interface RunFilter {
  readonly job?: string | undefined
  readonly outcome?: RunOutcome | undefined
  readonly from?: DateTime.Utc | undefined
  readonly to?: DateTime.Utc | undefined
  readonly limit: number
}

export interface Heartbeat {
  readonly replica: string
  readonly startedAt: DateTime.Utc
  readonly now: DateTime.Utc
  /** The task queues the replica's workers take tasks from. */
  readonly queues: ReadonlyArray<string>
}

export class ReplicaRow extends Schema.Class<ReplicaRow>("ReplicaRow")({
  replica: Schema.String,
  startedAt: Schema.DateTimeUtcFromDate,
  lastSeenAt: Schema.DateTimeUtcFromDate,
  queues: Schema.Array(Schema.String)
}) {}

const OVERLAP = "overlap: another run of this job is in progress"
const PAUSED = "paused"

const iso = DateTime.formatIso
/** A run's result as JSON text; values JSON cannot carry (bigint, cycles) degrade instead of failing. */
export const json = (value: unknown): string | null => {
  if (value === undefined) return null
  try {
    return JSON.stringify(value, (_key, v) => (typeof v === "bigint" ? v.toString() : v)) ?? null
  } catch {
    return JSON.stringify(String(value))
  }
}

const makePg = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const unavailable = <A, R>(self: Effect.Effect<A, unknown, R>) =>
    self.pipe(
      Effect.catchAll((error) =>
        (error as { _tag?: string })._tag === "SqlError"
          ? Effect.fail(new StoreUnavailable({ message: String((error as Error).message) }))
          : Effect.die(error)
      )
    ) as Effect.Effect<A, StoreUnavailable, R>

  const runs = (execute: () => Statement.Statement<unknown>) =>
    SqlSchema.findAll({ Request: Schema.Void, Result: JobRun, execute })(undefined)

  return RunStore.of({
    claim: (r) =>
      unavailable(
        Effect.gen(function*() {
          // Serialises claims of one job, so "is another run in progress" cannot race.
          yield* sql`SELECT pg_advisory_xact_lock(hashtext(${`clinic-scheduler:${r.job}`}))`
          const now = iso(r.now)
          const rows = yield* runs(() =>
            sql`
              WITH state AS (
                SELECT
                  EXISTS (SELECT 1 FROM scheduler_runs
                          WHERE job = ${r.job} AND outcome = 'running' AND lease_until > ${now}) AS busy,
                  ${
              r.ignorePause ? sql`false` : sql`EXISTS (SELECT 1 FROM scheduler_jobs WHERE name = ${r.job} AND paused)`
            } AS paused
              )
              INSERT INTO scheduler_runs
                (job, scheduled_at, trigger, outcome, replica, started_at, finished_at, lease_until, error)
              SELECT ${r.job}, ${iso(r.scheduledAt)}, ${r.trigger},
                CASE WHEN busy OR paused THEN 'skipped' ELSE 'running' END,
                ${r.replica},
                CASE WHEN busy OR paused THEN NULL ELSE ${now}::timestamptz END,
                CASE WHEN busy OR paused THEN ${now}::timestamptz ELSE NULL END,
                CASE WHEN busy OR paused THEN NULL ELSE ${iso(r.leaseUntil)}::timestamptz END,
                CASE WHEN paused THEN ${PAUSED} WHEN busy THEN ${OVERLAP} ELSE NULL END
              FROM state
              ON CONFLICT (job, scheduled_at) DO NOTHING
              RETURNING *`
          )
          return Option.fromNullable(rows[0])
        }).pipe(sql.withTransaction)
      ),
    recordSkip: (r) =>
      unavailable(
        sql`INSERT INTO scheduler_runs (job, scheduled_at, trigger, outcome, replica, finished_at, error)
            VALUES (${r.job}, ${iso(r.scheduledAt)}, 'schedule', 'skipped', ${r.replica}, ${iso(r.now)}, ${r.reason})
            ON CONFLICT (job, scheduled_at) DO NOTHING
            RETURNING id`.pipe(Effect.map((rows) => rows.length > 0))
      ),
    renew: (id, replica, leaseUntil) =>
      unavailable(
        sql`UPDATE scheduler_runs SET lease_until = ${iso(leaseUntil)}
            WHERE id = ${id} AND replica = ${replica} AND outcome = 'running'
            RETURNING id`.pipe(Effect.map((rows) => rows.length > 0))
      ),
    finish: (id, replica, end) =>
      unavailable(
        sql`UPDATE scheduler_runs
            SET outcome = ${end.outcome}, finished_at = ${iso(end.at)}, lease_until = NULL,
                result = ${json(end.result)}::jsonb, error = ${end.error}
            WHERE id = ${id} AND replica = ${replica} AND outcome = 'running'
            RETURNING id`.pipe(Effect.map((rows) => rows.length > 0))
      ),
    expiredClaims: (jobs, now) =>
      jobs.length === 0 ? Effect.succeed([]) : unavailable(
        runs(() =>
          sql`SELECT * FROM scheduler_runs
              WHERE outcome = 'running' AND lease_until < ${iso(now)} AND ${sql.in("job", jobs)}
              ORDER BY lease_until LIMIT 100`
        )
      ),
    nextLeaseExpiry: (jobs, replica, now) =>
      jobs.length === 0 ? Effect.succeed(Option.none()) : unavailable(
        SqlSchema.single({
          Request: Schema.Void,
          Result: Schema.Struct({ next: Schema.NullOr(Schema.DateTimeUtcFromDate) }),
          execute: () =>
            sql`SELECT min(lease_until) AS next FROM scheduler_runs
                WHERE outcome = 'running' AND lease_until >= ${iso(now)} AND replica <> ${replica}
                  AND ${sql.in("job", jobs)}`
        })(undefined).pipe(Effect.map((row) => Option.fromNullable(row.next)))
      ),
    takeOver: (id, replica, now, leaseUntil) =>
      unavailable(
        // The row lock makes this a compare-and-set: a second replica re-reads the new lease and stops.
        runs(() =>
          sql`UPDATE scheduler_runs
              SET replica = ${replica}, attempt = attempt + 1, started_at = ${iso(now)}, lease_until = ${
            iso(leaseUntil)
          }
              WHERE id = ${id} AND outcome = 'running' AND lease_until < ${iso(now)}
              RETURNING *`
        ).pipe(Effect.map((rows) => Option.fromNullable(rows[0])))
      ),
    lastScheduled: (job) =>
      unavailable(
        SqlSchema.single({
          Request: Schema.Void,
          Result: Schema.Struct({ last: Schema.NullOr(Schema.DateTimeUtcFromDate) }),
          execute: () =>
            sql`SELECT max(scheduled_at) AS last FROM scheduler_runs WHERE job = ${job} AND trigger <> 'manual'`
        })(undefined).pipe(Effect.map((row) => Option.fromNullable(row.last)))
      ),
    recent: (job, limit) =>
      unavailable(
        runs(() => sql`SELECT * FROM scheduler_runs WHERE job = ${job} ORDER BY scheduled_at DESC LIMIT ${limit}`)
      ),
    setPaused: (job, paused, now, reason = null) =>
      unavailable(
        sql`INSERT INTO scheduler_jobs (name, paused, pause_reason, updated_at)
            VALUES (${job}, ${paused}, ${paused ? reason : null}, ${iso(now)})
            ON CONFLICT (name) DO UPDATE
            SET paused = EXCLUDED.paused, pause_reason = EXCLUDED.pause_reason, updated_at = EXCLUDED.updated_at`
          .pipe(Effect.asVoid)
      ),
    pausedJobs: unavailable(
      sql<{ name: string; pauseReason: string | null }>`SELECT name, pause_reason FROM scheduler_jobs WHERE paused`
        .pipe(Effect.map((rows) => new Map(rows.map((row) => [row.name, row.pauseReason]))))
    ),
    history: (f) =>
      unavailable(
        runs(() =>
          sql`SELECT * FROM scheduler_runs WHERE ${
            sql.and([
              ...(f.job !== undefined ? [sql`job = ${f.job}`] : []),
              ...(f.outcome !== undefined ? [sql`outcome = ${f.outcome}`] : []),
              ...(f.from !== undefined ? [sql`scheduled_at >= ${iso(f.from)}`] : []),
              ...(f.to !== undefined ? [sql`scheduled_at < ${iso(f.to)}`] : [])
            ])
          } ORDER BY scheduled_at DESC, id DESC LIMIT ${f.limit}`
        )
      ),
    beat: (h) =>
      unavailable(
        sql`INSERT INTO scheduler_replicas (replica, started_at, last_seen_at, queues)
            VALUES (${h.replica}, ${iso(h.startedAt)}, ${iso(h.now)}, ${JSON.stringify(h.queues)}::jsonb)
            ON CONFLICT (replica) DO UPDATE
            SET started_at = EXCLUDED.started_at, last_seen_at = EXCLUDED.last_seen_at, queues = EXCLUDED.queues`
          .pipe(Effect.asVoid)
      ),
    leave: (replica) => unavailable(sql`DELETE FROM scheduler_replicas WHERE replica = ${replica}`.pipe(Effect.asVoid)),
    replicas: (since) =>
      unavailable(
        SqlSchema.findAll({
          Request: Schema.Void,
          Result: ReplicaRow,
          execute: () =>
            sql`SELECT replica, started_at, last_seen_at, queues FROM scheduler_replicas
                WHERE last_seen_at >= ${iso(since)} ORDER BY started_at DESC, replica`
        })(undefined)
      ),
    prune: (before) =>
      unavailable(
        sql`DELETE FROM scheduler_runs WHERE scheduled_at < ${iso(before)} AND outcome <> 'running' RETURNING id`.pipe(
          Effect.map((rows) => rows.length)
        )
      )
  })
})

interface MemoryState {
  readonly runs: ReadonlyArray<JobRun>
  readonly paused: ReadonlyMap<string, string | null>
  readonly replicas: ReadonlyMap<string, ReplicaRow>
  readonly nextId: number
}

const makeMemory = Effect.gen(function*() {
  const state = yield* Ref.make<MemoryState>({ runs: [], paused: new Map(), replicas: new Map(), nextId: 1 })
  const same = (a: DateTime.Utc, b: DateTime.Utc) => DateTime.toEpochMillis(a) === DateTime.toEpochMillis(b)
  const replace = (s: MemoryState, run: JobRun): MemoryState => ({
    ...s,
    runs: s.runs.map((r) => (r.id === run.id ? run : r))
  })
  const stored = (value: unknown) => {
    const text = json(value)
    return text === null ? null : JSON.parse(text)
  }

  return RunStore.of({
    claim: (r) =>
      Ref.modify(state, (s) => {
        if (s.runs.some((run) => run.job === r.job && same(run.scheduledAt, r.scheduledAt))) return [Option.none(), s]
        const busy = s.runs.some((run) =>
          run.job === r.job && run.outcome === "running" && run.leaseUntil !== null &&
          DateTime.greaterThan(run.leaseUntil, r.now)
        )
        const paused = !r.ignorePause && s.paused.has(r.job)
        const skipped = busy || paused
        const run = new JobRun({
          id: s.nextId,
          job: r.job,
          scheduledAt: r.scheduledAt,
          startedAt: skipped ? null : r.now,
          finishedAt: skipped ? r.now : null,
          leaseUntil: skipped ? null : r.leaseUntil,
          outcome: skipped ? "skipped" : "running",
          trigger: r.trigger,
          result: null,
          error: paused ? PAUSED : busy ? OVERLAP : null,
          replica: r.replica,
          attempt: 1
        })
        return [Option.some(run), { ...s, runs: [...s.runs, run], nextId: s.nextId + 1 }]
      }),
    recordSkip: (r) =>
      Ref.modify(state, (s) => {
        if (s.runs.some((run) => run.job === r.job && same(run.scheduledAt, r.scheduledAt))) return [false, s]
        const run = new JobRun({
          id: s.nextId,
          job: r.job,
          scheduledAt: r.scheduledAt,
          startedAt: null,
          finishedAt: r.now,
          leaseUntil: null,
          outcome: "skipped",
          trigger: "schedule",
          result: null,
          error: r.reason,
          replica: r.replica,
          attempt: 1
        })
        return [true, { ...s, runs: [...s.runs, run], nextId: s.nextId + 1 }]
      }),
    renew: (id, replica, leaseUntil) =>
      Ref.modify(state, (s) => {
        const run = s.runs.find((r) => r.id === id && r.replica === replica && r.outcome === "running")
        return run ? [true, replace(s, new JobRun({ ...run, leaseUntil }))] : [false, s]
      }),
    finish: (id, replica, end) =>
      Ref.modify(state, (s) => {
        const run = s.runs.find((r) => r.id === id && r.replica === replica && r.outcome === "running")
        if (!run) return [false, s]
        return [
          true,
          replace(
            s,
            new JobRun({
              ...run,
              outcome: end.outcome,
              finishedAt: end.at,
              leaseUntil: null,
              result: stored(end.result),
              error: end.error
            })
          )
        ]
      }),
    expiredClaims: (jobs, now) =>
      Effect.map(
        Ref.get(state),
        (s) =>
          s.runs.filter((r) =>
            jobs.includes(r.job) && r.outcome === "running" && r.leaseUntil !== null &&
            DateTime.lessThan(r.leaseUntil, now)
          )
      ),
    nextLeaseExpiry: (jobs, replica, now) =>
      Effect.map(Ref.get(state), (s) =>
        s.runs
          .flatMap((r) =>
            jobs.includes(r.job) && r.outcome === "running" && r.replica !== replica && r.leaseUntil !== null &&
              !DateTime.lessThan(r.leaseUntil, now)
              ? [r.leaseUntil]
              : []
          )
          .reduce<Option.Option<DateTime.Utc>>(
            (earliest, at) =>
              Option.isSome(earliest) && !DateTime.lessThan(at, earliest.value) ? earliest : Option.some(at),
            Option.none()
          )),
    takeOver: (id, replica, now, leaseUntil) =>
      Ref.modify(state, (s) => {
        const run = s.runs.find((r) =>
          r.id === id && r.outcome === "running" && r.leaseUntil !== null && DateTime.lessThan(r.leaseUntil, now)
        )
        if (!run) return [Option.none(), s]
        const next = new JobRun({ ...run, replica, attempt: run.attempt + 1, startedAt: now, leaseUntil })
        return [Option.some(next), replace(s, next)]
      }),
    lastScheduled: (job) =>
      Effect.map(Ref.get(state), (s) =>
        s.runs
          .filter((r) => r.job === job && r.trigger !== "manual")
          .reduce<Option.Option<DateTime.Utc>>(
            (last, r) =>
              Option.isSome(last) && !DateTime.greaterThan(r.scheduledAt, last.value)
                ? last
                : Option.some(r.scheduledAt),
            Option.none()
          )),
    recent: (job, limit) =>
      Effect.map(Ref.get(state), (s) =>
        s.runs
          .filter((r) => r.job === job)
          .sort((a, b) => DateTime.toEpochMillis(b.scheduledAt) - DateTime.toEpochMillis(a.scheduledAt))
          .slice(0, limit)
          .map((r) => new JobRun(r))),
    setPaused: (job, paused, _now, reason = null) =>
      Ref.update(state, (s) => {
        const next = new Map(s.paused)
        if (paused) next.set(job, reason)
        else next.delete(job)
        return { ...s, paused: next }
      }),
    pausedJobs: Effect.map(Ref.get(state), (s) => s.paused),
    history: (f) =>
      Effect.map(Ref.get(state), (s) =>
        s.runs
          .filter((r) =>
            (f.job === undefined || r.job === f.job) &&
            (f.outcome === undefined || r.outcome === f.outcome) &&
            (f.from === undefined || !DateTime.lessThan(r.scheduledAt, f.from)) &&
            (f.to === undefined || DateTime.lessThan(r.scheduledAt, f.to))
          )
          .sort((a, b) => DateTime.toEpochMillis(b.scheduledAt) - DateTime.toEpochMillis(a.scheduledAt) || b.id - a.id)
          .slice(0, f.limit)),
    beat: (h) =>
      Ref.update(state, (s) => ({
        ...s,
        replicas: new Map(s.replicas).set(
          h.replica,
          new ReplicaRow({ replica: h.replica, startedAt: h.startedAt, lastSeenAt: h.now, queues: [...h.queues] })
        )
      })),
    leave: (replica) =>
      Ref.update(state, (s) => {
        const next = new Map(s.replicas)
        next.delete(replica)
        return { ...s, replicas: next }
      }),
    replicas: (since) =>
      Effect.map(Ref.get(state), (s) =>
        [...s.replicas.values()]
          .filter((r) => !DateTime.lessThan(r.lastSeenAt, since))
          .sort((a, b) =>
            DateTime.toEpochMillis(b.startedAt) - DateTime.toEpochMillis(a.startedAt) ||
            a.replica.localeCompare(b.replica)
          )),
    prune: (before) =>
      Ref.modify(state, (s) => {
        const kept = s.runs.filter((r) => r.outcome === "running" || !DateTime.lessThan(r.scheduledAt, before))
        return [s.runs.length - kept.length, { ...s, runs: kept }]
      })
  })
})

export class RunStore extends Context.Tag("@clinic/scheduler-engine/RunStore")<RunStore, RunStoreShape>() {
  static readonly layerPg = Layer.effect(RunStore, makePg.pipe(withMethodSpans("RunStore")))
  static readonly layerMemory = Layer.effect(RunStore, makeMemory.pipe(withMethodSpans("RunStore")))
}
