import * as fs from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

// The pull-request workflow runs with a write token on code from the PR: what it trusts is pinned.
const FILE = ".github/workflows/pull-request.yml";
const text = fs.readFileSync(FILE, "utf8");
const workflow = parse(text);
const steps: Array<Record<string, any>> = Object.values(workflow.jobs as Record<string, any>).flatMap((j) => j.steps);
const PULUMI_VERSION = JSON.parse(fs.readFileSync("package.json", "utf8")).dependencies["@pulumi/pulumi"];

describe("the pull-request workflow", () => {
  it("pins every action by full commit SHA, its tag in a comment", () => {
    const uses = text.split("\n").filter((line) => /^\s*(- )?uses:/.test(line));
    expect(uses).toHaveLength(steps.filter((s) => s.uses).length);
    for (const line of uses) expect(line).toMatch(/uses: [\w.-]+\/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/);
  });

  it("gives the passphrase to the preview step only", () => {
    const withPassphrase = (env: Record<string, unknown> | undefined) =>
      Object.keys(env ?? {}).includes("PULUMI_CONFIG_PASSPHRASE");
    expect(withPassphrase(workflow.env)).toBe(false);
    for (const job of Object.values(workflow.jobs as Record<string, any>)) expect(withPassphrase(job.env)).toBe(false);
    expect(steps.filter((s) => withPassphrase(s.env)).map((s) => s.with?.command)).toEqual(["preview"]);
  });

  it("checks out without keeping the token in the git config", () => {
    const checkouts = steps.filter((s) => s.uses?.startsWith("actions/checkout@"));
    expect(checkouts).toHaveLength(1);
    expect(checkouts[0].with?.["persist-credentials"]).toBe(false);
  });

  it("runs the Pulumi CLI the SDK is pinned to, and the policy pack without a config file", () => {
    const pulumiSteps = steps.filter((s) => s.uses?.startsWith("pulumi/actions@"));
    expect(pulumiSteps.length).toBeGreaterThan(0);
    for (const s of pulumiSteps) expect(String(s.with?.["pulumi-version"])).toBe(PULUMI_VERSION);
    const preview = pulumiSteps.find((s) => s.with?.command === "preview")!;
    expect(preview.with).toMatchObject({ policyPacks: "policy" });
    expect(preview.with).not.toHaveProperty("policyPackConfigs");
  });
});
