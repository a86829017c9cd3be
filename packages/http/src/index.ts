export * from "./HoldingServer.js"
