export * as Job from "./Job.js"
export * as JobSchedule from "./JobSchedule.js"
export * from "./RunStore.js"
export * from "./SchedulerEngine.js"
