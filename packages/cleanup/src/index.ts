export * as Media from "./AuthSessionMediaStore.js"
export { AuthSessionMediaStore, RemovedMedia } from "./AuthSessionMediaStore.js"
export * from "./CleanupConfig.js"
export * from "./SessionCleanup.js"
