export * as BenchReport from "./BenchReport.js"
export * from "./ChildProcess.js"
export * from "./TestTime.js"
