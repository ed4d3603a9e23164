import { defineConfig } from "vitest/config";

// `npm run bench`: the stack against the guide's steps as a script, on the real-engine test bed.
// Not part of `npm run test:all`.
export default defineConfig({
  test: {
    include: ["test/bench/**/*.bench-run.ts"],
    globalSetup: ["testbed/engine/globalSetup.ts"],
    pool: "forks",
    testTimeout: 900_000,
    hookTimeout: 300_000,
  },
});
