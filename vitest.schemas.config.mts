import { defineConfig } from "vitest/config";

// The schema tests: every object the stack declares, validated against the upstream CRDs pinned in
// testbed/crds/pins.json. Run by `npm run test:schemas` after fetching them (the Go module proxy on a
// cold cache), so `npm test` needs no network.
export default defineConfig({
  test: {
    include: ["test/schemas/**/*.test.ts"],
    pool: "forks",
    testTimeout: 30_000,
  },
});
