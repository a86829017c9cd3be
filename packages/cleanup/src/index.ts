export * from "./CleanupConfig.js"
export * as Media from "./AuthSessionMediaStore.js"
export { AuthSessionMediaStore, RemovedMedia } from "./AuthSessionMediaStore.js"
export * from "./SessionCleanup.js"
