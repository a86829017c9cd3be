export * from "./CleanupConfig.js"
export * as Media from "./MediaStore.js"
export { MediaStore, RemovedMedia } from "./MediaStore.js"
export * from "./SessionCleanup.js"
