#!/usr/bin/env node
// How fast this machine's disk makes an append durable, without the broker: appends 8 KiB to a file in the given
// directory (default: the OS temp dir) and fsyncs it, 2,000 times, with 1, 2 and 4 fsyncs in flight at once, and
// prints fsyncs per second and latency percentiles. The embedded store's WAL fsync measured inside the broker can be
// compared with it (docs/issue-17-progress.md).   node tools/bench/fsync-probe.mjs [dir]
import { closeSync, fsync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const dir = mkdtempSync(join(process.argv[2] ?? tmpdir(), "cebus-fsync-"));
const total = 2000;

async function probe(concurrency) {
  const fd = openSync(join(dir, `append-${concurrency}.bin`), "w");
  const block = Buffer.alloc(8192, 1);
  const latencies = [];
  let started = 0;
  const t0 = performance.now();
  await new Promise((resolve) => {
    const next = () => {
      if (started >= total) {
        if (latencies.length === total) resolve();
        return;
      }
      started++;
      writeSync(fd, block);
      const at = performance.now();
      fsync(fd, () => {
        latencies.push(performance.now() - at);
        next();
      });
    };
    for (let i = 0; i < concurrency; i++) next();
  });
  const seconds = (performance.now() - t0) / 1000;
  closeSync(fd);
  latencies.sort((a, b) => a - b);
  const q = (p) => latencies[Math.floor(latencies.length * p)].toFixed(2);
  console.log(
    `${concurrency} in flight: ${Math.round(total / seconds)} fsyncs/s, p50 ${q(0.5)} p99 ${q(0.99)} max ${latencies[total - 1].toFixed(1)} ms`,
  );
}

try {
  for (const concurrency of [1, 2, 4]) await probe(concurrency);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
