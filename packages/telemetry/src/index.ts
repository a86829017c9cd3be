export * as Telemetry from "./Telemetry.js"
export * as TraceParent from "./TraceParent.js"
