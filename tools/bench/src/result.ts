/** One measured run: a scenario on Cebus or on the raw backend it is compared with. */
export interface RunResult {
  scenario: string;
  /** "cebus" or the baseline's name, e.g. "raw sqlite store". */
  system: string;
  events: number;
  seconds: number;
  eventsPerSecond: number;
  publishP50Ms?: number;
  publishP99Ms?: number;
  /** publish -> deliver */
  p50Ms?: number;
  p99Ms?: number;
  p999Ms?: number;
  brokerCpuPercent?: number;
  brokerPeakRssMb?: number;
  /** Anything scenario-specific: retries, recovery time, lost events... */
  notes?: Record<string, number | string>;
}

export const round = (n: number | undefined, digits = 2) =>
  n === undefined || !Number.isFinite(n) ? undefined : Math.round(n * 10 ** digits) / 10 ** digits;
