import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

/** A client under test: its name in the matrix and the command line that starts it. */
export interface ClientUnderTest {
  name: string;
  command: string[];
}

/**
 * Resolves `--client`: the clients shipped in this repository by name (node, go, python, browser); anything else is
 * taken as a command line ("custom"). The Go adapter is built with the machine's `go` (cached after the first build); the Python
 * adapter runs in the SDK's virtualenv, made by tools/sdks/python-env.sh; the browser adapter drives Debian's
 * chromium through playwright-core.
 */
export function resolveClient(value: string, root: string): ClientUnderTest {
  switch (value) {
    case "node":
      return {
        name: value,
        command: [process.execPath, join(root, "conformance/dist/adapters/node/main.js")],
      };
    case "go": {
      const binary = join(root, "conformance/dist/adapters/go/cebus-conformance-go");
      execFileSync("go", ["build", "-o", binary, "."], {
        cwd: join(root, "conformance/adapters/go"),
        stdio: ["ignore", "inherit", "inherit"],
      });
      return { name: value, command: [binary] };
    }
    case "python": {
      const python = execFileSync("bash", [join(root, "tools/sdks/python-env.sh")], {
        cwd: root,
        stdio: ["ignore", "pipe", "inherit"],
        encoding: "utf8",
      }).trim();
      return { name: value, command: [python, join(root, "conformance/adapters/python/main.py")] };
    }
    case "browser": {
      const shim = join(root, "conformance/dist/adapters/browser/main.js");
      if (!existsSync(shim)) throw new Error(`${shim} is missing: run pnpm build`);
      return { name: value, command: [process.execPath, shim] };
    }
    default:
      return { name: "custom", command: value.split(" ").filter(Boolean) };
  }
}
