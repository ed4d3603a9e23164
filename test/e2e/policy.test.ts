import type { Stack } from "@pulumi/pulumi/automation";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApiServer, type ApiServer } from "../../testbed/apiserver/apiServer";
import { REPO_ROOT, scratchStack } from "../../testbed/engine/engine";
import { useTestBed } from "../../testbed/engine/useTestBed";
import { startKeycloak, type Keycloak } from "../../testbed/keycloak/keycloak";
import { freePort } from "../../testbed/processes";
import { standIns } from "../../testbed/standins/standIns";

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
let gatewayCluster: ApiServer;
let keycloak: Keycloak;

beforeAll(async () => {
  // Use case 3's further cluster must answer the preflight; the gateway's cluster is Kind's (not made).
  clusterB = startApiServer();
  // Use case 3's preview reads realm mcp's gateway client (its id for the sub mapper) from Keycloak.
  keycloak = await startKeycloak("guide-397bf8d");
  gatewayCluster = startApiServer();
});

afterAll(() => {
  clusterB?.stop();
  gatewayCluster?.stop();
  keycloak?.stop();
});

describe("the policy pack in a real preview, without a policy config", () => {
  it("lets use case 1 through, every policy run", async () => {
    const { stack } = await scratchStack();
    const { passed, output } = await previewWithPack(stack);
    expect(passed, output).toBe(true);
    expectEveryPolicyRan(output);
  });

  it("lets use case 3 through on an existing cluster: an AuthPolicy per route; only the grant Secret's value waits for the up", async () => {
    // In kind mode the gateway's cluster does not exist at preview, so its objects' outputs are all
    // unknown and the stack rule has nothing to judge: on an existing cluster they are known.
    const { stack } = await scratchStack("dev", standIns().env);
    await useTestBed(stack, {
      apiServer: gatewayCluster,
      tag: "guide-397bf8d",
      port: freePort(),
      keycloak,
      useCase: "cross-domain",
    });
    await stack.setAllConfig(
      {
        "domains[0].name": { value: "b" },
        "domains[0].realm": { value: "cluster-b" },
        "domains[0].kubeconfig": { value: fs.readFileSync(clusterB.kubeconfig, "utf8"), secret: true },
        "domains[0].port": { value: String(freePort()) },
        "domains[0].host": { value: "kube-b.mcp.test" },
      },
      true,
    );
    const { passed, output } = await previewWithPack(stack);
    expect(passed, output).toBe(true);
    expect(output).toContain(PACK);
    // The grant client's secret exists once Keycloak makes the client: crossdomain.test.ts runs
    // its up with the pack, where every policy judges it.
    const skipped = output.split("\n").filter((l) => l.includes("can't run policy"));
    expect(skipped).toEqual([
      expect.stringMatching(
        /can't run policy 'no-plaintext-secrets' .* string value at \.stringData can't be known during preview/,
      ),
    ]);
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
