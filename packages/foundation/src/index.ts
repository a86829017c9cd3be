export * from "./ProjectRoot.js"
export * as Sql from "./Sql.js"
