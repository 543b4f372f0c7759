import { readFileSync } from "node:fs";
import * as hdr from "hdr-histogram-js";

/** Latency in milliseconds with microsecond resolution, in an HDR histogram (1 µs .. 60 s, 3 digits). */
export interface Latency {
  record(ms: number): void;
  readonly count: number;
  percentile(p: number): number;
}

export function createLatency(): Latency {
  const histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  });
  return {
    record: (ms) => histogram.recordValue(Math.max(1, Math.round(ms * 1000))),
    get count() {
      return histogram.totalCount;
    },
    percentile: (p) => histogram.getValueAtPercentile(p) / 1000,
  };
}

/** CPU time and peak memory of a process, from /proc (Linux). */
export interface ProcessSample {
  cpuMs: number;
  peakRssMb: number;
  rssMb: number;
}

const ticksPerSecond = 100; // USER_HZ on Linux

export function sampleProcess(pid: number): ProcessSample {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const cpuTicks = Number(fields[11]) + Number(fields[12]); // utime + stime
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return {
    cpuMs: (cpuTicks * 1000) / ticksPerSecond,
    peakRssMb: kb("VmHWM") / 1024,
    rssMb: kb("VmRSS") / 1024,
  };
}

/** A live line on the terminal (rewritten in place on a TTY, one line per update otherwise, at most every 2 s). */
export function createProgress(label: string): { update(text: string): void; done(text: string): void } {
  const tty = process.stderr.isTTY;
  let last = 0;
  return {
    update(text) {
      const now = performance.now();
      if (tty) process.stderr.write(`\r\x1b[K  ${label}: ${text}`);
      else if (now - last > 2000) {
        process.stderr.write(`  ${label}: ${text}\n`);
        last = now;
      }
    },
    done(text) {
      process.stderr.write(`${tty ? "\r\x1b[K" : ""}  ${label}: ${text}\n`);
    },
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
