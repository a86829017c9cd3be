export { at, startClock, T0 } from "@clinic/testing/TestTime"
export { makeTherapist } from "../src/testing/Fixtures.js"
