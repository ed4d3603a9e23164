import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", ".cache/", ".mcp-gateway/", "testbed/**/*.mjs"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    rules: {
      // Resources are created for their side effect on the graph; `new X(...)` unassigned is the Pulumi idiom.
      "no-new": "off",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    // Node scripts (plain ESM), and the one a component runs (components/gatewayClientSecret/).
    files: ["scripts/**/*.mjs", "components/**/*.mjs"],
    languageOptions: {
      globals: {
        process: "readonly",
        console: "readonly",
        fetch: "readonly",
        setTimeout: "readonly",
        URL: "readonly",
        URLSearchParams: "readonly",
      },
    },
  },
  {
    // Tests read loosely typed engine payloads (wire inputs, YAML fixtures).
    files: ["test/**/*.ts", "testbed/**/*.ts", "policy/**/*.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "off" },
  },
);
