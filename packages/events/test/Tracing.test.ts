import { TaskStore, Worker } from "@clinic/queue"
import { sqlClientLayer } from "@clinic/repository/MemoryDb"
import { methodSpanProblems, recordSpans } from "@clinic/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Option, type Tracer } from "effect"
import * as EventBus from "../src/EventBus.js"
import { OutboxStore } from "../src/OutboxStore.js"
import { bookingConfirmed, recording } from "./EventBusContract.js"
import { startClock } from "./fixtures.js"

const layer = Layer.mergeAll(OutboxStore.layerMemory, TaskStore.layerMemory, sqlClientLayer)

/** The names of `span` and its ancestors among `spans`, root last (a stored parent is looked up by id). */
const ancestry = (spans: ReadonlyArray<Tracer.Span>, span: Tracer.Span): ReadonlyArray<string> => {
  const names = [span.name]
  let parent = Option.getOrUndefined(span.parent)
  while (parent !== undefined) {
    const { spanId } = parent
    const found = spans.find((s) => s.spanId === spanId)
    if (found === undefined) break
    names.push(found.name)
    parent = Option.getOrUndefined(found.parent)
  }
  return names
}

describe("event bus traces", () => {
  it.scoped("each delivery continues the trace that published its event, though one batch relays events of two traces", () =>
    Effect.gen(function*() {
      yield* startClock
      const audit = yield* recording("audit", ["booking.confirmed"])
      const bus = yield* EventBus.make({ subscribers: [audit.sub] })
      const { exit, spans } = yield* recordSpans(Effect.gen(function*() {
        yield* EventBus.publish(bookingConfirmed(1)).pipe(Effect.withSpan("first request"))
        yield* EventBus.publish(bookingConfirmed(2)).pipe(Effect.withSpan("second request"))
        const relayed = yield* bus.dispatchOnce
        const runs = yield* Worker.drain(bus.registry, bus.queue)
        return { relayed, outcomes: runs.map((r) => r.outcome) }
      }))
      assert.deepStrictEqual(exit, Exit.succeed({ relayed: 2, outcomes: ["succeeded", "succeeded"] }))

      const chains = spans.filter((s) => s.name === "TaskWorker.execute").map((execute) =>
        ancestry(spans, execute).filter((name) => /^(EventBus|TaskQueue|TaskWorker)\.| request$/.test(name))
      )
      const chain = (request: string) => [
        "TaskWorker.execute",
        "TaskQueue.enqueue",
        "EventBus.relay",
        "EventBus.publish",
        request
      ]
      assert.deepStrictEqual(
        [...chains].sort((a, b) => a[a.length - 1].localeCompare(b[b.length - 1])),
        [chain("first request"), chain("second request")]
      )
      const traceOf = (name: string) => spans.find((s) => s.name === name)!.traceId
      assert.notStrictEqual(traceOf("first request"), traceOf("second request"))
      for (const execute of spans.filter((s) => s.name === "TaskWorker.execute")) {
        assert.include([traceOf("first request"), traceOf("second request")], execute.traceId)
      }
      // The batch itself is one span, the root of a trace of its own.
      const batch = spans.filter((s) => s.name === "EventBus.dispatchOnce")
      assert.strictEqual(batch.length, 1)
      assert.isTrue(Option.isNone(batch[0].parent))

      for (const s of spans.filter((s) => s.name === "EventBus.publish" || s.name === "EventBus.relay")) {
        assert.strictEqual(s.attributes.get("type"), "booking.confirmed", s.name)
      }
    }).pipe(Effect.provide(layer)))

  it.scoped("the bus's operations and the outbox maintenance are traced under their names", () =>
    Effect.gen(function*() {
      yield* startClock
      const audit = yield* recording("audit", ["booking.confirmed"])
      const bus = yield* EventBus.make({ subscribers: [audit.sub] })
      // start, then stop, dispatchOnce and status: the registry and the queue name are no methods.
      assert.deepStrictEqual(yield* methodSpanProblems("EventBus", bus), [])

      const { exit, spans } = yield* recordSpans(Effect.gen(function*() {
        yield* EventBus.publishAll([bookingConfirmed(1), bookingConfirmed(2)])
        yield* EventBus.pruneProcessed()
        yield* EventBus.pruneDispatched("1 hour")
      }))
      assert.isTrue(Exit.isSuccess(exit))
      const own = spans.filter((s) => s.name.startsWith("EventBus."))
      assert.deepStrictEqual(own.map((s) => s.name), [
        "EventBus.publishAll",
        "EventBus.pruneProcessed",
        "EventBus.pruneDispatched"
      ])
      assert.strictEqual(own[0].attributes.get("count"), 2)
    }).pipe(Effect.provide(layer)))
})
