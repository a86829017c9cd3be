import { at } from "@clinic/testing/TestTime"
import { DateTime, Duration, Effect } from "effect"
import { type NewTask, TaskStore } from "../src/TaskStore.js"

// Shared with every package: one T0 and one way to wait for fibers.
export * from "@clinic/testing/TestTime"

// For the tests that drive a TaskStore directly with explicit times.

/** A task due at T0 on the default queue; `overrides` set what a test is about. */
export const newTask = (overrides: Partial<NewTask> & { readonly name: string }): NewTask => ({
  queue: "default",
  payload: {},
  priority: 0,
  maxAttempts: 3,
  runAt: at(0),
  idempotencyKey: null,
  now: at(0),
  traceParent: null,
  ...overrides
})

/** Inserts one task and gives its id. */
export const insertOne = (task: NewTask) =>
  Effect.flatMap(TaskStore, (store) => Effect.map(store.insert([task]), (results) => results[0].id))

/** A 30 s lease taken at `now`. */
export const lease = (now: DateTime.Utc, leaseId = crypto.randomUUID()) => ({
  leaseId,
  now,
  until: DateTime.addDuration(now, Duration.seconds(30))
})
