export { unit as default } from "../../vitest.shared.js"
