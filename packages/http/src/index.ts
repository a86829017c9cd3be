export * as ErrorShape from "./ErrorShape.js"
export * as Health from "./Health.js"
export * from "./HoldingServer.js"
