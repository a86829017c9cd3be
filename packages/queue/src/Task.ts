import type { Duration, Effect, Schema } from "effect"
import { Duration as D } from "effect"
import * as Backoff from "./Backoff.js"

/** What a handler knows about the run it is in. */
export interface TaskContext {
  readonly id: string
  readonly name: string
  readonly queue: string
  /** 1 on the first run. */
  readonly attempt: number
  readonly maxAttempts: number
}

/**
 * A task, defined once: how its payload is encoded, where and how it runs, and what it does. The
 * handler is an ordinary Effect over services, so its business logic is tested without a queue.
 */
export interface Task<Name extends string, A, I, E, R> {
  readonly name: Name
  readonly payload: Schema.Schema<A, I, never>
  readonly queue: string
  /** Higher runs first among due tasks of a queue. */
  readonly priority: number
  readonly maxAttempts: number
  readonly backoff: Backoff.Backoff
  readonly timeout: Duration.Duration
  readonly handler: (payload: A, context: TaskContext) => Effect.Effect<void, E, R>
}

/**
 * Any task, whatever its payload, errors and services: what a registry holds. The `any`s are
 * existential, not lazy: the handler takes its own payload type (contravariant), so no other type
 * accepts every task and still lets the worker pass it the payload its schema decoded; the services
 * it needs are tracked by `Context<Tasks[number]>` instead.
 */
export interface Any {
  readonly name: string
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- existential payload (see above)
  readonly payload: Schema.Schema<any, any, never>
  readonly queue: string
  readonly priority: number
  readonly maxAttempts: number
  readonly backoff: Backoff.Backoff
  readonly timeout: Duration.Duration
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- existential payload, errors, services
  readonly handler: (payload: any, context: TaskContext) => Effect.Effect<void, any, any>
}

/** The services a task's handler needs. */
export type Context<T> = T extends { readonly handler: (...args: never) => Effect.Effect<unknown, unknown, infer R> }
  ? R
  : never

export type Payload<T> = T extends { readonly payload: Schema.Schema<infer A, infer _I, never> } ? A : never

export const make = <const Name extends string, A, I, E, R>(options: {
  readonly name: Name
  readonly payload: Schema.Schema<A, I, never>
  readonly queue?: string
  readonly priority?: number
  readonly maxAttempts?: number
  readonly backoff?: Backoff.Backoff
  readonly timeout?: Duration.DurationInput
  readonly handler: (payload: A, context: TaskContext) => Effect.Effect<void, E, R>
}): Task<Name, A, I, E, R> => ({
  name: options.name,
  payload: options.payload,
  queue: options.queue ?? "default",
  priority: options.priority ?? 0,
  maxAttempts: options.maxAttempts ?? 5,
  backoff: options.backoff ?? Backoff.defaultBackoff,
  timeout: D.decode(options.timeout ?? "5 minutes"),
  handler: options.handler
})
