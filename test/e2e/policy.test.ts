import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT, scratchStack } from "./engine";

// The policy pack run by the real engine: `pulumi preview --policy-pack policy`.
const POLICY_PACK = path.join(REPO_ROOT, "policy");

function policyConfig(dir: string, useCase: string, allowClusterAdmin: boolean): string {
  const file = path.join(dir, "policy-config.json");
  fs.writeFileSync(
    file,
    JSON.stringify({
      "auth-policy-matches-use-case": { useCase },
      "cluster-admin-only-when-allowed": { allowClusterAdmin },
    }),
  );
  return file;
}

describe("the policy pack in a real preview", () => {
  it("lets the dev stack's preview through with its policy config", async () => {
    const { stack } = await scratchStack();
    const result = await stack.preview({
      policyPacks: [POLICY_PACK],
      policyPackConfigs: [path.join(POLICY_PACK, "config.dev.json")],
    });
    expect(result.changeSummary.create).toBeGreaterThan(0);
  });

  it("refuses an oidc stack that binds cluster-admin where the policy config forbids it", async () => {
    const { stack, dir } = await scratchStack();
    await stack.setConfig("useCase", { value: "oidc" });
    await stack.setConfig("keycloak.adminPassword", { value: "admin", secret: true }, true);
    const error = await stack
      .preview({ policyPacks: [POLICY_PACK], policyPackConfigs: [policyConfig(dir, "oidc", false)] })
      .then(
        () => new Error("preview passed"),
        (e: Error) => e,
      );
    expect(error.message).toContain("cluster-admin-only-when-allowed");
    expect(error.message).toContain("grants cluster-admin to https://keycloak.127-0-0-1.sslip.io:8002/realms/mcp#mcp");
  });

  it("refuses a no-auth plan when the policy config says the stack must be oidc", async () => {
    const { stack, dir } = await scratchStack();
    const error = await stack
      .preview({ policyPacks: [POLICY_PACK], policyPackConfigs: [policyConfig(dir, "oidc", true)] })
      .then(
        () => new Error("preview passed"),
        (e: Error) => e,
      );
    expect(error.message).toContain("auth-policy-matches-use-case");
    expect(error.message).toContain("declares no AuthPolicy");
  });
});
