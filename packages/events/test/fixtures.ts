// Shared with every package: one T0 and one way to wait for fibers.
export * from "@clinic/testing/TestTime"
