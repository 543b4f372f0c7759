// Command-line parsing shared by the codegen scripts: `--help` prints the usage and exits 0; an unknown or
// malformed option is one line naming it, then the usage, and exit 2 (never a stack trace).
import { parseArgs } from "node:util";

/** Parses process.argv (a leading `--` from `pnpm <script> -- ...` is dropped) against `options`. */
export function parseScriptArgs(usage, options = {}) {
  const args = process.argv.slice(2).filter((arg, i) => !(i === 0 && arg === "--"));
  if (args.includes("--help") || args.includes("-h")) {
    console.log(usage);
    process.exit(0);
  }
  try {
    return parseArgs({ args, options }).values;
  } catch (error) {
    console.error(`error: ${error.message}\n${usage}`);
    process.exit(2);
  }
}
