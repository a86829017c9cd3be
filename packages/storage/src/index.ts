export * as FileSignature from "./FileSignature.js"
export * as FileStore from "./FileStore.js"
