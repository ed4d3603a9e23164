import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT, scratchStack } from "./engine";

// The policy pack run by the real engine: `pulumi preview --policy-pack policy` of the dev stack.
const POLICY_PACK = path.join(REPO_ROOT, "policy");

function policyConfig(dir: string, useCase: string): string {
  const file = path.join(dir, "policy-config.json");
  fs.writeFileSync(
    file,
    JSON.stringify({
      "auth-policy-matches-use-case": { useCase },
      "cluster-admin-only-when-allowed": { allowClusterAdmin: false },
    }),
  );
  return file;
}

describe("the policy pack in a real preview", () => {
  it("lets use case 1 through with the dev stack's policy config, running every policy", async () => {
    const { stack } = await scratchStack();
    const result = await stack.preview({
      policyPacks: [POLICY_PACK],
      policyPackConfigs: [path.join(POLICY_PACK, "config.dev.json")],
    });
    expect(result.changeSummary.create).toBeGreaterThan(0);
    expect(result.stdout).toContain("mcp-gateway-stack@v0.1.0");
  });

  it("refuses a plan without an AuthPolicy when the policy config says the stack is oidc", async () => {
    const { stack, dir } = await scratchStack();
    const error = await stack
      .preview({ policyPacks: [POLICY_PACK], policyPackConfigs: [policyConfig(dir, "oidc")] })
      .then(
        () => new Error("preview passed"),
        (e: Error) => e,
      );
    expect(error.message).toContain("auth-policy-matches-use-case");
    expect(error.message).toContain("declares no AuthPolicy");
  });

  it("refuses a binding to cluster-admin when the policy config does not allow it", async () => {
    const { stack, dir } = await scratchStack();
    await stack.setConfig("useCase", { value: "oidc" });
    await stack.setConfig("keycloak.adminPassword", { value: "pw", secret: true }, true);
    const error = await stack
      .preview({ policyPacks: [POLICY_PACK], policyPackConfigs: [policyConfig(dir, "oidc")] })
      .then(
        () => new Error("preview passed"),
        (e: Error) => e,
      );
    expect(error.message).toContain("cluster-admin-only-when-allowed");
    expect(error.message).not.toContain("auth-policy-matches-use-case");
  });
});
