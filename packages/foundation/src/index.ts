export * as Logging from "./Logging.js"
export * from "./ProjectRoot.js"
export * as Settings from "./Settings.js"
export * as Sql from "./Sql.js"
