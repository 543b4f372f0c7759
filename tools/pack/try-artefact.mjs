// What the installed-artefact tests share: a real broker (the repository's built CLI, memory store, a free port),
// the first code block of an SDK README, and a temporary directory outside the repository to install into.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { createInterface } from "node:readline";

export const repoRoot = new URL("../..", import.meta.url).pathname;
/** The URL every SDK README snippet connects to; the tests replace it with the test broker's. */
export const readmeUrl = "http://127.0.0.1:8080";

/**
 * Starts `cebus serve --store memory --port 0` with this Node and resolves when it logs "cebus listening":
 * `{ url, stop }`, where `stop()` kills it and waits for it to exit.
 */
export async function startBroker() {
  const bin = join(repoRoot, "packages/cli/dist/bin.js");
  const args = [bin, "serve", "--store", "memory", "--port", "0", "--host", "127.0.0.1"];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const url = await listeningUrl(child);
  return {
    url,
    async stop() {
      child.kill("SIGKILL");
      await exited;
    },
  };
}

/** Reads the broker's stdout until its "cebus listening" JSON line; rejects if it exits first. */
async function listeningUrl(child) {
  const seen = [];
  let url;
  for await (const line of createInterface({ input: child.stdout })) {
    seen.push(line);
    const record = parseJson(line);
    if (record?.msg === "cebus listening" && typeof record.url === "string") {
      url = record.url;
      break;
    }
  }
  if (!url) {
    throw new Error(
      `cebus serve exited before it logged "cebus listening" (run pnpm build first); it printed:\n${seen.join("\n")}`,
    );
  }
  child.stdout.resume(); // keep draining its log so the broker never blocks on a full pipe
  return url;
}

function parseJson(line) {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

/** The body of the first ```<lang> block of a README in the repository (path relative to the repository root). */
export function readmeBlock(path, lang) {
  const readme = readFileSync(join(repoRoot, path), "utf8");
  const block = new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``).exec(readme);
  if (!block) throw new Error(`${path} has no \`\`\`${lang} block`);
  return block[1];
}

/** The README snippet with its broker URL replaced by `url`; throws if the snippet does not use the README URL. */
export function pointSnippetAt(snippet, url) {
  if (!snippet.includes(readmeUrl)) throw new Error(`the README snippet does not connect to ${readmeUrl}`);
  return snippet.replaceAll(readmeUrl, url);
}

/** A new empty directory outside the repository (the real path: macOS's /tmp is a link). */
export function outsideRepo(prefix) {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
  if (!relative(repoRoot, dir).startsWith(".."))
    throw new Error(`${dir} is inside the repository ${repoRoot}`);
  return dir;
}

export function removeDir(dir) {
  rmSync(dir, { recursive: true, force: true });
}
