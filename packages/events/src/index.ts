export * as EventBus from "./EventBus.js"
export * from "./OutboxStore.js"
