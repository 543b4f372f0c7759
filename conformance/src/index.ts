export { type ConformanceCase, type SettlePolicy, type Step, parseSuite } from "./case.js";
export { type Anomaly, checkHistory } from "./checkers.js";
export { type ClientProcess, startClientProcess } from "./client-process.js";
export { readFrames, writeFrame } from "./framing.js";
export { type History, type HistoryEntry, createHistory } from "./history.js";
export { type FaultProxy, startFaultProxy } from "./proxy.js";
export { type CaseResult, runCase } from "./run-case.js";
export { type BrokerTarget, externalBroker, startManagedBroker } from "./target.js";
