/** Prints one JSON object per line (bigints as numbers when safe, else strings). */
export function printJson(value: unknown): void {
  process.stdout.write(
    `${JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? (Number.isSafeInteger(Number(v)) ? Number(v) : String(v)) : v))}\n`,
  );
}

/** Prints rows as an aligned table with a header, or `empty` when there are none. */
export function printTable(rows: Record<string, unknown>[], empty: string): void {
  const first = rows[0];
  if (!first) {
    console.log(empty);
    return;
  }
  const columns = Object.keys(first);
  const cells = [columns, ...rows.map((r) => columns.map((c) => String(r[c] ?? "")))];
  const widths = columns.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? "").length)));
  for (const row of cells)
    console.log(
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd(),
    );
}

/** Progress on stderr: one updating line on a terminal, a line every few seconds otherwise. */
export function createProgress(
  total: number,
  label: string,
): { update(done: number): void; finish(done: number): void } {
  const tty = process.stderr.isTTY;
  const started = performance.now();
  let lastPrint = 0;
  const line = (done: number) => {
    const seconds = (performance.now() - started) / 1000;
    const rate = seconds > 0 ? Math.round(done / seconds) : 0;
    return `${label}: ${done}/${total} (${Math.floor((done / Math.max(1, total)) * 100)}%) ${rate} events/s`;
  };
  return {
    update(done) {
      const now = performance.now();
      if (tty && now - lastPrint > 100) {
        process.stderr.write(`\r${line(done)}`);
        lastPrint = now;
      } else if (!tty && now - lastPrint > 2000) {
        process.stderr.write(`${line(done)}\n`);
        lastPrint = now;
      }
    },
    finish(done) {
      const seconds = (performance.now() - started) / 1000;
      if (tty) process.stderr.write("\r\x1b[K");
      process.stderr.write(
        `${label}: ${done} events in ${seconds.toFixed(2)} s (${Math.round(done / Math.max(seconds, 1e-9))} events/s)\n`,
      );
    },
  };
}
