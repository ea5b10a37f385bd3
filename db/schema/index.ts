export * from "./projects.js";
export * from "./code.js";
export * from "./executions.js";
export * from "./logs.js";
export * from "./datums.js";
