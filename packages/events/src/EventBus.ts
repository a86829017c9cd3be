import { DomainEvent, EventId, type EventType } from "@clinic/domain"
import { BackgroundLoop } from "@clinic/foundation"
import { timeOrderedUuid } from "@clinic/foundation/TimeOrderedId"
import { Backoff, Registry, Task, TaskQueue, type TaskStore, Worker } from "@clinic/queue"
import { TraceParent } from "@clinic/telemetry"
import { SqlClient, SqlError } from "@effect/sql"
import { Context, DateTime, Duration, Effect, Layer, Option, Queue, Ref, Schema, type Scope } from "effect"
import { type NewEvent, OutboxStore } from "./OutboxStore.js"

export interface DeliveryContext {
  readonly eventId: EventId
  readonly occurredAt: DateTime.Utc
  readonly subscriber: string
  /** 1 on the first delivery. */
  readonly attempt: number
}

/**
 * A named reaction to some event types. Its name identifies it in `processed_events`, so renaming
 * a subscriber makes it see recent events again.
 */
export interface Subscriber<T extends EventType, E, R> {
  readonly name: string
  readonly events: ReadonlyArray<T>
  readonly handler: (
    event: Extract<DomainEvent, { readonly _tag: T }>,
    context: DeliveryContext
  ) => Effect.Effect<void, E, R>
  readonly maxAttempts: number
  readonly backoff: Backoff.Backoff
  readonly timeout: Duration.Duration
}

/**
 * Any subscriber, whatever its events, errors and services. The `any`s are existential: a handler
 * takes only its own event types (contravariant), so no other type accepts every subscriber and
 * still lets delivery pass it the decoded event; its services are tracked by `SubscriberContext`.
 */
export interface AnySubscriber {
  readonly name: string
  readonly events: ReadonlyArray<EventType>
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- existential event, errors, services
  readonly handler: (event: any, context: DeliveryContext) => Effect.Effect<void, any, any>
  readonly maxAttempts: number
  readonly backoff: Backoff.Backoff
  readonly timeout: Duration.Duration
}

export type SubscriberContext<S> = S extends {
  readonly handler: (...args: never) => Effect.Effect<unknown, unknown, infer R>
} ? R
  : never

export const subscriber = <const T extends EventType, E, R>(options: {
  readonly name: string
  readonly events: ReadonlyArray<T>
  readonly handler: (
    event: Extract<DomainEvent, { readonly _tag: T }>,
    context: DeliveryContext
  ) => Effect.Effect<void, E, R>
  readonly maxAttempts?: number
  readonly backoff?: Backoff.Backoff
  readonly timeout?: Duration.DurationInput
}): Subscriber<T, E, R> => ({
  name: options.name,
  events: options.events,
  handler: options.handler,
  maxAttempts: options.maxAttempts ?? 8,
  backoff: options.backoff ?? Backoff.make({ base: "2 seconds", max: "10 minutes" }),
  timeout: Duration.decode(options.timeout ?? "1 minute")
})

/**
 * Writes `event` to the outbox through the ambient `SqlClient`: call it inside the transaction of
 * the change it describes, and it is published if and only if that change commits.
 */
export const publish = (event: DomainEvent): Effect.Effect<EventId, never, OutboxStore> =>
  Effect.gen(function*() {
    const store = yield* OutboxStore
    const occurredAt = yield* DateTime.now
    const id = EventId.make(timeOrderedUuid(occurredAt), true)
    const payload = yield* Schema.encode(DomainEvent)(event).pipe(Effect.orDie)
    yield* store.insert({ id, type: event._tag, payload, occurredAt, traceParent: yield* TraceParent.current })
    return id
  }).pipe(Effect.withSpan("EventBus.publish", { attributes: { type: event._tag } }))

const encodeAll = Schema.encode(Schema.Array(DomainEvent))

/** `publish` for many events at once: one statement, for batch changes (cleanup runs). */
export const publishAll = (
  events: ReadonlyArray<DomainEvent>
): Effect.Effect<ReadonlyArray<EventId>, never, OutboxStore> =>
  Effect.gen(function*() {
    if (events.length === 0) return []
    const store = yield* OutboxStore
    const occurredAt = yield* DateTime.now
    const traceParent = yield* TraceParent.current
    // One encode for the batch: a cleanup batch publishes up to thousands of events at once.
    const payloads = yield* encodeAll(events).pipe(Effect.orDie)
    const rows = events.map((event, i): NewEvent => ({
      id: EventId.make(timeOrderedUuid(occurredAt), true),
      type: event._tag,
      payload: payloads[i],
      occurredAt,
      traceParent
    }))
    yield* store.insertAll(rows)
    return rows.map((row) => row.id)
  }).pipe(Effect.withSpan("EventBus.publishAll", { attributes: { count: events.length } }))

/** Forgets which subscriber handled which event, for records older than `olderThan` (hourly job). */
export const pruneProcessed = (olderThan: Duration.DurationInput = "1 hour") =>
  Effect.gen(function*() {
    const store = yield* OutboxStore
    const now = yield* DateTime.now
    return yield* store.pruneProcessed(DateTime.subtractDuration(now, olderThan))
  }).pipe(Effect.withSpan("EventBus.pruneProcessed"))

/** Deletes outbox rows dispatched longer than `retention` ago (maintenance). */
export const pruneDispatched = (retention: Duration.DurationInput) =>
  Effect.gen(function*() {
    const store = yield* OutboxStore
    const now = yield* DateTime.now
    return yield* store.pruneDispatched(DateTime.subtractDuration(now, retention))
  }).pipe(Effect.withSpan("EventBus.pruneDispatched"))

const DeliveryPayload = Schema.Struct({ eventId: EventId })

/**
 * The task that delivers one event to one subscriber, as one unit of work: in one transaction it
 * holds the (event, subscriber) pair, skips it if already processed, runs the handler (whose writes
 * join the transaction) and records the delivery in `processed_events` last. A redelivery (a
 * crashed worker, a second replica, a duplicate task) waits for the pair and then skips; a failing
 * handler records nothing (on Postgres its writes roll back) and the task retries with backoff,
 * independently of every other subscriber.
 */
export const deliveryTask = <S extends AnySubscriber>(sub: S, queue: string) =>
  Task.make({
    name: `event:${sub.name}`,
    payload: DeliveryPayload,
    queue,
    maxAttempts: sub.maxAttempts,
    backoff: sub.backoff,
    timeout: sub.timeout,
    handler: (
      { eventId },
      context
    ): Effect.Effect<void, unknown, OutboxStore | SqlClient.SqlClient | SubscriberContext<S>> =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const store = yield* OutboxStore
        yield* sql.withTransaction(Effect.gen(function*() {
          yield* store.lockDelivery(eventId, sub.name)
          if (yield* store.isProcessed(eventId, sub.name)) {
            return yield* Effect.logDebug("event already processed by this subscriber")
          }
          const stored = yield* store.get(eventId)
          if (Option.isNone(stored)) return yield* Effect.logWarning("event no longer in the outbox")
          const event = yield* Schema.decodeUnknown(DomainEvent)(stored.value.payload).pipe(Effect.orDie)
          yield* sub.handler(event, {
            eventId,
            occurredAt: stored.value.occurredAt,
            subscriber: sub.name,
            attempt: context.attempt
          })
          yield* store.markProcessed(eventId, sub.name, yield* DateTime.now)
        })).pipe(
          // A failed BEGIN/COMMIT is a defect like any SqlError; the handler's own errors pass.
          Effect.catchIf((error): error is SqlError.SqlError => error instanceof SqlError.SqlError, Effect.die)
        )
      }).pipe(Effect.annotateLogs({ subscriber: sub.name, eventId }))
  })

export interface EventBusConfig<Subs extends ReadonlyArray<AnySubscriber>> {
  readonly subscribers: Subs
  /** The task queue deliveries run on; default "events". */
  readonly queue?: string
  /** Deliveries run at once by this process; default 4. */
  readonly concurrency?: number
  /** How often the relay looks at the outbox when no notification woke it; default 1 second. */
  readonly pollInterval?: Duration.DurationInput
  readonly batchSize?: number
  /** How long `stop` waits for running handlers before handing their deliveries back; default 10 seconds. */
  readonly shutdownBudget?: Duration.DurationInput
  readonly lease?: Duration.DurationInput
}

export interface EventBusStatus {
  readonly state: BackgroundLoop.State
  /** Whether outbox notifications reach the relay (otherwise it polls). */
  readonly listening: boolean
  /** Events relayed to their subscribers by this process. */
  readonly dispatched: number
  readonly subscribers: ReadonlyArray<{ readonly name: string; readonly events: ReadonlyArray<EventType> }>
  readonly worker: Option.Option<Worker.WorkerStatus>
}

/** `R`: what the subscribers' handlers need. */
export interface EventBusShape<R = unknown> {
  /** The delivery tasks and their queue, for a worker elsewhere or for tests (`Worker.drain`). */
  readonly registry: Registry.Registry<OutboxStore | SqlClient.SqlClient | R>
  readonly queue: string
  /** Starts the relay and the delivery workers; a no-op when running. */
  readonly start: Effect.Effect<void>
  /** Stops relaying and drains running handlers up to `budget`; a no-op when stopped. */
  readonly stop: (budget?: Duration.DurationInput) => Effect.Effect<void>
  readonly status: Effect.Effect<EventBusStatus>
  /** Relays one batch of undispatched events to their subscribers now; returns how many. */
  readonly dispatchOnce: Effect.Effect<number>
}

export class EventBus extends Context.Tag("@clinic/events/EventBus")<EventBus, EventBusShape>() {}

/**
 * Builds the bus (stopped) in the current scope; closing the scope stops it. Fails with a
 * `RegistryError` on a bad configuration (duplicate subscriber names, a subscriber to nothing).
 */
export const make = <const Subs extends ReadonlyArray<AnySubscriber>>(
  config: EventBusConfig<Subs>
): Effect.Effect<
  EventBusShape<SubscriberContext<Subs[number]>>,
  Registry.RegistryError,
  OutboxStore | TaskStore | SqlClient.SqlClient | SubscriberContext<Subs[number]> | Scope.Scope
> =>
  Effect.gen(function*() {
    const context = yield* Effect.context<
      OutboxStore | TaskStore | SqlClient.SqlClient | SubscriberContext<Subs[number]>
    >()
    const sql = yield* SqlClient.SqlClient
    const store = yield* OutboxStore
    const queue = config.queue ?? "events"
    const batchSize = config.batchSize ?? 100
    const pollInterval = Duration.decode(config.pollInterval ?? "1 second")

    const empty = config.subscribers.filter((s) => s.events.length === 0).map((s) => s.name)
    if (empty.length > 0) {
      return yield* Effect.fail(
        new Registry.RegistryError({ problems: empty.map((name) => `subscriber "${name}" listens to no event`) })
      )
    }
    const tasks = config.subscribers.map((sub) => ({ sub, task: deliveryTask(sub, queue) }))
    // Each delivery task needs the outbox and its subscriber's services; the array loses that detail.
    const registry: Registry.Registry<OutboxStore | SqlClient.SqlClient | SubscriberContext<Subs[number]>> =
      yield* Registry
        .make({
          tasks: tasks.map((t) => t.task),
          queues: [{
            name: queue,
            concurrency: config.concurrency ?? 4,
            ...(config.lease !== undefined ? { lease: config.lease } : {})
          }]
        })
    const byType = new Map<string, Array<(typeof tasks)[number]>>()
    for (const entry of tasks) {
      for (const type of entry.sub.events) byType.set(type, [...(byType.get(type) ?? []), entry])
    }

    const dispatched = yield* Ref.make(0)
    const worker = yield* Ref.make<Option.Option<Worker.TaskWorkerShape>>(Option.none())
    const listening = yield* Ref.make<Effect.Effect<boolean>>(Effect.succeed(false))

    const dispatchOnce = Effect.gen(function*() {
      const now = yield* DateTime.now
      // One unit of work: the batch's delivery tasks and its dispatched stamps commit together.
      const count = yield* store.dispatch(batchSize, now, (events) =>
        Effect.forEach(events, (event) =>
          Effect.forEach(byType.get(event.type) ?? [], ({ sub, task }) =>
            TaskQueue.enqueue(task, { eventId: event.id }, { idempotencyKey: `event:${event.id}:${sub.name}` })).pipe(
              // Each event's deliveries continue the trace that published it (a batch mixes traces).
              Effect.withSpan("EventBus.relay", {
                ...TraceParent.childOf(event.traceParent),
                attributes: { type: event.type }
              })
            ), { discard: true })).pipe(sql.withTransaction, Effect.orDie)
      yield* Ref.update(dispatched, (n) =>
        n + count)
      return count
    }).pipe(Effect.provide(context), Effect.withSpan("EventBus.dispatchOnce"))

    /** Each start: the delivery worker, the outbox listener, and the relay that hands events to the worker. */
    const relay = yield* BackgroundLoop.make({
      name: "EventBus",
      drainBudget: config.shutdownBudget ?? "10 seconds",
      iterations: Effect.gen(function*() {
        const deliveries = yield* Worker.make(registry, {
          queues: [queue],
          ...(config.shutdownBudget !== undefined ? { shutdownBudget: config.shutdownBudget } : {})
        })
        yield* Ref.set(worker, Option.some(deliveries))
        yield* Effect.addFinalizer(() =>
          Ref.set(worker, Option.none())
        )
        const wake = yield* Queue.sliding<void>(1)
        // Notifications wake the relay at once; while they are lost, it polls.
        const live = yield* BackgroundLoop.listen({
          name: "EventBus",
          notifications: store.notifications,
          ping: store.ping,
          onNotification: () => Effect.asVoid(wake.offer(undefined))
        })
        yield* Ref.set(listening, live)
        yield* Effect.addFinalizer(() => Ref.set(listening, Effect.succeed(false)))
        return [{
          run: Effect.gen(function*() {
            const count = yield* dispatchOnce
            if (count > 0) yield* deliveries.wake(queue)
            // A full batch means more may be waiting: go again at once.
            return count >= batchSize
          }),
          idle: Effect.raceFirst(Effect.sleep(pollInterval), wake.take),
          backoff: { initial: pollInterval, max: Duration.max(pollInterval, Duration.seconds(30)) }
        }]
      })
    })

    const stop = Effect.fn("EventBus.stop")(function*(budget?: Duration.DurationInput) {
      // The worker first, under the caller's budget: its running handlers are what a stop drains.
      const current = yield* Ref.get(worker)
      if (Option.isSome(current)) yield* current.value.stop(budget)
      yield* relay.stop(budget)
    })

    return {
      registry,
      queue,
      start: Effect.asVoid(relay.start).pipe(Effect.withSpan("EventBus.start")),
      stop,
      dispatchOnce,
      status: Effect.gen(function*() {
        const current = yield* Ref.get(worker)
        return {
          state: yield* relay.state,
          listening: yield* Effect.flatten(Ref.get(listening)),
          dispatched: yield* Ref.get(dispatched),
          subscribers: config.subscribers.map((s) => ({ name: s.name, events: s.events })),
          worker: Option.isSome(current) ? Option.some(yield* current.value.status) : Option.none()
        }
      }).pipe(Effect.withSpan("EventBus.status"))
    }
  })

/** The bus as a service, started for the life of the layer. */
export const layer = <const Subs extends ReadonlyArray<AnySubscriber>>(
  config: EventBusConfig<Subs>
): Layer.Layer<
  EventBus,
  Registry.RegistryError,
  OutboxStore | TaskStore | SqlClient.SqlClient | SubscriberContext<Subs[number]>
> => Layer.scoped(EventBus, Effect.tap(make(config), (bus) => bus.start))
