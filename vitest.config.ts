import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: [
      "packages/*/src/**/*.test.ts",
      "sdks/client/src/**/*.test.ts",
      "conformance/src/**/*.test.ts",
      "tools/codegen/*.test.mjs",
      "tools/pack/*.test.mjs",
    ],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
