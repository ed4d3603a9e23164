import * as fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { selfSubjectReview, untilAccepted, type ApiServer } from "../../testbed/apiserver/apiServer";
import { startApiServer } from "../../testbed/apiserver/apiServer";
import { runMetadata, type MetadataStep } from "../../testbed/authz/metadata";
import { scratchStack, type Scratch } from "../../testbed/engine/engine";
import { tearDownStack, useTestBed } from "../../testbed/engine/useTestBed";
import { claimsOf } from "../../testbed/jwt";
import { passwordLogin, startKeycloak, type Keycloak } from "../../testbed/keycloak/keycloak";
import { createRealm, type Realm } from "../../testbed/keycloak/realms";
import { callTool } from "../../testbed/mcp";
import { freePort } from "../../testbed/processes";
import { standIns } from "../../testbed/standins/standIns";

// Use case 3 with cluster b in kind mode on the real engine: the stack writes b's Kind config and
// runs `kind create cluster` itself. `kind` is the test bed's stand-in: it starts a loopback API
// server with the OIDC flags it reads from that config (issuer, client id, claims, and the CA file
// the config mounts), so what b's API server trusts is what the stack wrote. The gateway's cluster
// is an existing loopback API server trusting realm mcp (as in crossdomain.test.ts).
const TAG = "guide-397bf8d";
const SERVER_B = "mcp-test/kubernetes-mcp-b";
const BINDING = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/oidc-mcp-cluster-admin";
const POLICY_B = "/apis/kuadrant.io/v1/namespaces/mcp-test/authpolicies/kubernetes-mcp-b-auth-policy";

let keycloak: Keycloak;
let realmB: Realm;
let gatewayApi: ApiServer;
let bed: ReturnType<typeof standIns>;
let s: Scratch;
let portB: number;
let upResult = "";

beforeAll(async () => {
  keycloak = await startKeycloak(TAG);
  realmB = await createRealm(keycloak, "cluster-b");
  gatewayApi = startApiServer({ keycloak, tag: TAG });
  bed = standIns();
  s = await scratchStack("dev", bed.env);
  portB = freePort();
  await useTestBed(s.stack, { apiServer: gatewayApi, tag: TAG, port: freePort(), keycloak, useCase: "cross-domain" });
  await s.stack.setAllConfig(
    {
      "domains[0].name": { value: "b" },
      "domains[0].realm": { value: realmB.name },
      "domains[0].cluster.mode": { value: "kind" },
      "domains[0].port": { value: String(portB) },
      "domains[0].host": { value: "kube-b.mcp.test" },
    },
    true,
  );
  const up = await s.stack.up();
  upResult = up.summary.result;
});

afterAll(async () => {
  await tearDownStack(s);
  bed?.stopClusters();
  gatewayApi?.stop();
  keycloak?.stop();
});

describe("use case 3 with cluster b in kind mode: the stack creates b's Kind cluster", () => {
  it("up runs kind create cluster --name mcp-b with the config it wrote, and reads the kubeconfig from kind", () => {
    expect(upResult).toBe("succeeded");
    const calls = bed.calls().filter((c) => c.startsWith("kind "));
    expect(calls).toEqual([
      expect.stringMatching(/^kind create cluster --name mcp-b --config \/.*\/cluster-b\/kind-config\.yaml$/),
      "kind get kubeconfig --name mcp-b",
    ]);
    // No hosts line for a Keycloak at an IP (the test bed's): no docker exec.
    expect(bed.calls().filter((c) => c.startsWith("docker exec"))).toEqual([]);
  });

  it("b's API server trusts realm cluster-b for b's server id, and holds b's binding", async () => {
    const b = bed.cluster("mcp-b")!;
    expect(b).toBeDefined();
    expect({ issuer: b.oidcIssuer, clientId: b.oidcClientId }).toEqual({ issuer: realmB.issuer, clientId: SERVER_B });
    expect((await b.kube.get(BINDING)).json.subjects).toEqual([
      { apiGroup: "rbac.authorization.k8s.io", kind: "User", name: `${realmB.issuer}#mcp` },
    ]);
  });

  it("accepts the chain's realm cluster-b token for b's server, refuses realm mcp's, and b's server serves with it", async () => {
    const b = bed.cluster("mcp-b")!;
    const caller = await (await passwordLogin(keycloak))("mcp", "mcp");
    const rules = (await gatewayApi.kube.get(POLICY_B)).json.spec.rules as { metadata: Record<string, MetadataStep> };
    const run = await runMetadata(rules.metadata, {
      headers: { authorization: `Bearer ${caller}`, "x-mcp-servername": SERVER_B },
      identity: claimsOf(caller),
      ca: keycloak.ca,
      apiServer: gatewayApi,
    });
    const final = run.byName["oauth-token-exchange"].json.access_token as string;
    expect(claimsOf(final)).toMatchObject({ iss: realmB.issuer, aud: SERVER_B, preferred_username: "mcp" });
    await untilAccepted(b, final);
    const review = await selfSubjectReview(b, final);
    expect(review.status, review.text).toBe(201);
    expect(review.json.status.userInfo.username).toBe(`${realmB.issuer}#mcp`);
    expect((await selfSubjectReview(b, caller)).status).toBe(401);
    const result = await callTool(`http://127.0.0.1:${portB}/mcp`, "namespaces_list", final);
    expect(result.isError, result.text).toBe(false);
    expect(result.text).toContain("kube-system");
  });

  it("destroy deletes the Kind cluster with kind delete cluster", async () => {
    const dir = bed.cluster("mcp-b")!.dir;
    const result = await s.stack.destroy();
    expect(result.summary.result).toBe("succeeded");
    expect(bed.calls().filter((c) => c.startsWith("kind "))).toContain("kind delete cluster --name mcp-b");
    expect(bed.cluster("mcp-b")).toBeUndefined();
    // The stand-in's stop.sh removes the API server's folder with everything it ran.
    expect(fs.existsSync(dir)).toBe(false);
  });
});
