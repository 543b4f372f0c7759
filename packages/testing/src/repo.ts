import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CebusError } from "@cebus/core";

/**
 * The cebus repository's root, found from this module's location (src/ or dist/ of packages/testing). Only the
 * repo-internal helpers (startBroker, runCli, startRedis, ...) use it; an installed @cebus/testing has no
 * repository around it, and startTestBroker needs none.
 */
export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
export const cliPath = join(repoRoot, "packages/cli/dist/bin.js");

/** A file of the repository checkout, or a CebusError naming the helper that needs it and what to use instead. */
export function repoFile(path: string, helper: string): string {
  const file = join(repoRoot, path);
  if (!existsSync(file)) {
    throw new CebusError(
      "failed_precondition",
      `${helper} runs from the cebus repository and needs ${file} (run pnpm build there); outside the repository use startTestBroker() from @cebus/testing`,
    );
  }
  return file;
}

/** Installs a Debian package (redis-server, nats-server, postgresql, chromium) when missing (tools/servers/install.sh). */
export function installServer(debianPackage: string, helper: string): void {
  execFileSync("bash", [repoFile("tools/servers/install.sh", helper), debianPackage], {
    stdio: ["ignore", "ignore", "inherit"],
  });
}
