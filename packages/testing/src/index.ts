export * as BenchReport from "./BenchReport.js"
export * from "./ChildProcess.js"
export * from "./LogCapture.js"
export * from "./TestTime.js"
