import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "policy/**/*.test.ts"],
    exclude: ["test/e2e/**", "test/schemas/**", "node_modules/**"],
    // Pulumi mocks are process-wide: each file runs in its own isolated worker.
    pool: "forks",
    testTimeout: 30_000,
  },
});
