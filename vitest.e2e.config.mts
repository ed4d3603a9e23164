import { defineConfig } from "vitest/config";

// The real-engine tests: run by `npm run test:e2e` after testbed/toolchain/build.sh.
export default defineConfig({
  test: {
    include: ["test/e2e/**/*.test.ts"],
    globalSetup: ["testbed/engine/globalSetup.ts"],
    pool: "forks",
    // Each preview starts the CLI, the Node.js language host and the provider plugins.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    fileParallelism: false,
  },
});
