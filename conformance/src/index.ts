export { type ConformanceCase, parseSuite, type SettlePolicy, type Step } from "./case.js";
export { type Anomaly, checkHistory } from "./checkers.js";
export { type ClientProcess, startClientProcess } from "./client-process.js";
export { readFrames, writeFrame } from "./framing.js";
export { createHistory, type History, type HistoryEntry } from "./history.js";
export { type FaultProxy, startFaultProxy } from "./proxy.js";
export { type CaseResult, runCase } from "./run-case.js";
export { type BrokerTarget, externalBroker, startManagedBroker } from "./target.js";
