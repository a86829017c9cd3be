export * as BackgroundLoop from "./BackgroundLoop.js"
export * from "./ProjectRoot.js"
export * as Sql from "./Sql.js"
