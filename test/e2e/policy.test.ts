import type { Stack } from "@pulumi/pulumi/automation";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, scratchStack } from "./engine";
import { startApiServer, startKeycloak, type ApiServer, type Keycloak } from "./testbed";

// The policy pack run by the real engine, `pulumi preview --policy-pack policy` with no policy
// config: the dev stack as shipped (kind mode), in use case 1 and in use case 3, and a program
// that declares a cluster-admin binding its OidcClusterAccess does not allow.
const POLICY_PACK = path.join(REPO_ROOT, "policy");
const PACK = "mcp-gateway-stack@v0.1.0";

/** The preview's output, or its error's message when the pack refuses the plan. */
async function previewWithPack(stack: Stack): Promise<{ passed: boolean; output: string }> {
  return stack.preview({ policyPacks: [POLICY_PACK] }).then(
    (r) => ({ passed: true, output: r.stdout }),
    (e: Error) => ({ passed: false, output: e.message }),
  );
}

/** Every policy of the pack ran to a verdict: none was skipped on a value unknown in the preview. */
function expectEveryPolicyRan(output: string) {
  expect(output).toContain(PACK);
  expect(output).not.toMatch(/can't run policy/);
}

let clusterB: ApiServer;
let keycloak: Keycloak;

beforeAll(async () => {
  // Use case 3's further cluster must answer the preflight; the gateway's cluster is Kind's (not made).
  clusterB = startApiServer();
  // Use case 3's preview reads realm mcp's gateway client (its id for the sub mapper) from Keycloak.
  keycloak = await startKeycloak("guide-397bf8d");
});

afterAll(() => {
  clusterB?.stop();
  keycloak?.stop();
});

describe("the policy pack in a real preview, without a policy config", () => {
  it("lets use case 1 through, every policy run", async () => {
    const { stack } = await scratchStack();
    const { passed, output } = await previewWithPack(stack);
    expect(passed, output).toBe(true);
    expectEveryPolicyRan(output);
  });

  it("lets use case 3 through: its grant Secret from a Pulumi secret, an AuthPolicy per route, every policy run", async () => {
    const { stack } = await scratchStack();
    await stack.setAllConfig(
      {
        useCase: { value: "cross-domain" },
        "keycloak.url": { value: keycloak.url },
        "keycloak.adminUser": { value: keycloak.adminUser },
        "keycloak.adminPassword": { value: keycloak.adminPassword, secret: true },
        "keycloak.rootCaCertificate": { value: fs.readFileSync(keycloak.ca, "utf8") },
        "keycloak.tlsInsecureSkipVerify": { value: "false" },
        "domains[0].name": { value: "b" },
        "domains[0].realm": { value: "cluster-b" },
        "domains[0].kubeconfig": { value: fs.readFileSync(clusterB.kubeconfig, "utf8"), secret: true },
        "domains[0].port": { value: "9992" },
        "domains[0].host": { value: "kube-b.mcp.test" },
      },
      true,
    );
    const { passed, output } = await previewWithPack(stack);
    expect(passed, output).toBe(true);
    expectEveryPolicyRan(output);
    expect(output).toMatch(/\+\s+kubernetes:core\/v1:Secret\s+domain-b-trust-grant-secret\s+create/);
  });

  it("refuses a cluster-admin binding unless its OidcClusterAccess declares allowClusterAdmin true", async () => {
    const { stack, dir } = await scratchStack();
    const program = (allowClusterAdmin: boolean) => `import * as k8s from "@pulumi/kubernetes";
import { OidcClusterAccess } from "./components/oidcClusterAccess";
const provider = new k8s.Provider("cluster", { kubeconfig: ${JSON.stringify(fs.readFileSync(clusterB.kubeconfig, "utf8"))} });
new OidcClusterAccess(
  "oidc-user",
  { issuerUrl: "https://issuer.test/realms/mcp", username: "mcp", clusterRole: "cluster-admin", allowClusterAdmin: ${allowClusterAdmin} },
  { providers: [provider] },
);
`;
    fs.writeFileSync(path.join(dir, "index.ts"), program(false));
    const refused = await previewWithPack(stack);
    expect(refused.passed).toBe(false);
    expect(refused.output).toContain("cluster-admin-only-when-allowed");
    expect(refused.output).toContain(
      "ClusterRoleBinding oidc-mcp-cluster-admin grants cluster-admin to https://issuer.test/realms/mcp#mcp, but no OidcClusterAccess above it declares allowClusterAdmin true",
    );
    fs.writeFileSync(path.join(dir, "index.ts"), program(true));
    const allowed = await previewWithPack(stack);
    expect(allowed.passed, allowed.output).toBe(true);
    expectEveryPolicyRan(allowed.output);
  });
});
