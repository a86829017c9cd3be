export * as BenchReport from "./BenchReport.js"
export * from "./TestTime.js"
