import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseAllDocuments } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_CHAINING_IMAGE } from "../../components/keycloakChaining";
import { GUIDE_TOOLS } from "../../components/tools";
import { selfSubjectReview, startApiServer, untilAccepted, type ApiServer } from "../../testbed/apiserver/apiServer";
import { runMetadata, type MetadataStep } from "../../testbed/authz/metadata";
import { persistedTexts, scratchStack, stepCounter, type Scratch } from "../../testbed/engine/engine";
import { tearDownStack, useTestBed } from "../../testbed/engine/useTestBed";
import { gatewayFile } from "../../testbed/gateway/checkout";
import type { Api } from "../../testbed/https";
import { claimsOf } from "../../testbed/jwt";
import { passwordLogin, startKeycloak } from "../../testbed/keycloak/keycloak";
import { runKeycloakDeployment, type KeycloakDeployment } from "../../testbed/keycloak/pod";
import { callTool } from "../../testbed/mcp";
import { freePort } from "../../testbed/processes";
import { standIns } from "../../testbed/standins/standIns";

// Use case 3 on the Keycloak that the gateway's Kind setup deploys (config/keycloak/deployment.yaml:
// quay.io/keycloak/keycloak:26.3, no JWT authorization grant, no truststore), once the stack has
// patched it (inClusterKeycloak.patch). The test bed runs that Deployment's pods
// (testbed/keycloak/pod.ts): each template the stack leaves starts the Keycloak release its image
// names, with the features and the truststore the template gives, a fresh database and the same
// address. 26.3 is not on Maven Central: 26.4.7, also without the grant, stands in for it.
const TAG = "guide-397bf8d";
const SERVER_B = "mcp-test/kubernetes-mcp-b";
const ONLY_IN_B = "only-in-cluster-b";
const DEPLOYMENT = "/apis/apps/v1/namespaces/keycloak/deployments/keycloak";
const GATEWAY = "/apis/gateway.networking.k8s.io/v1/namespaces/gateway-system/gateways/mcp-gateway";
const CA_CONFIGMAP = "/api/v1/namespaces/keycloak/configmaps/mcp-gateway-stack-gateway-ca";
const POLICY_B = "/apis/kuadrant.io/v1/namespaces/mcp-test/authpolicies/kubernetes-mcp-b-auth-policy";
/** What Istio would write as the Gateway's address (the host alias's target). */
const GATEWAY_ADDRESS = "10.96.120.7";
const ORIGINAL_IMAGE = "quay.io/keycloak/keycloak:26.3";
const ANNOTATION = "mcp-gateway-stack.io/keycloak-image-before";

let pods: KeycloakDeployment;
let gatewayApi: ApiServer;
let clusterB: ApiServer;
let s: Scratch;
let portB: number;
let templateBefore: unknown;
let up: { summary: { resourceChanges?: Record<string, number> } };
const kc = () => pods.current();

/** Server-side apply of one manifest by the field manager kubectl would use for `kubectl apply`. */
async function apply(kube: Api, doc: any, collection: string): Promise<void> {
  const ns = doc.metadata.namespace;
  const res = await kube.request(
    "PATCH",
    `${collection.replace("{ns}", ns)}/${doc.metadata.name}?fieldManager=kubectl&force=true`,
    doc,
    "application/apply-patch+yaml",
  );
  if (res.status >= 300) throw new Error(`apply ${doc.kind} ${ns}/${doc.metadata.name}: ${res.status} ${res.text}`);
}

beforeAll(async () => {
  // The pod as `make local-env-setup` deploys it; then the clusters trusting its realms.
  const first = await startKeycloak(TAG, "26.4.7", { MCP_KEYCLOAK_FEATURES: "", MCP_KEYCLOAK_TRUSTSTORE: "none" });
  // The API servers read the CA from a file of their own: each pod's instance dir goes with the pod.
  const ca = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "mcp-gateway-ca-")), "ca.crt");
  fs.copyFileSync(first.ca, ca);
  gatewayApi = startApiServer({ keycloak: { ...first, ca }, tag: TAG });
  clusterB = startApiServer({
    keycloak: { ...first, ca },
    tag: TAG,
    issuer: `${first.url}/realms/cluster-b`,
    clientId: SERVER_B,
  });
  const kube = gatewayApi.kube;
  // What the gateway's keycloak.mk leaves on its cluster: the namespace, the realm import, the
  // Deployment; the certificate of the gateway's `keycloak` listener; the Gateway's address.
  expect((await kube.request("POST", "/api/v1/namespaces", { metadata: { name: "keycloak" } })).status).toBe(201);
  const [realmImport] = parseAllDocuments(
    fs.readFileSync(gatewayFile(TAG, "config/keycloak/realm-import.yaml"), "utf8"),
  );
  await apply(kube, realmImport.toJS(), "/api/v1/namespaces/{ns}/configmaps");
  const [deployment] = parseAllDocuments(fs.readFileSync(gatewayFile(TAG, "config/keycloak/deployment.yaml"), "utf8"));
  await apply(kube, deployment.toJS(), "/apis/apps/v1/namespaces/{ns}/deployments");
  const tls = (f: string) => Buffer.from(fs.readFileSync(path.join(first.dir, f))).toString("base64");
  await apply(
    kube,
    {
      apiVersion: "v1",
      kind: "Secret",
      type: "kubernetes.io/tls",
      metadata: { namespace: "gateway-system", name: "mcp-gateway-keycloak-cert" },
      data: { "ca.crt": tls("ca.crt"), "tls.crt": tls("tls.crt"), "tls.key": tls("tls.key") },
    },
    "/api/v1/namespaces/{ns}/secrets",
  );
  const status = await kube.request(
    "PATCH",
    `${GATEWAY}/status`,
    { status: { addresses: [{ type: "IPAddress", value: GATEWAY_ADDRESS }] } },
    "application/merge-patch+json",
  );
  expect(status.status, status.text).toBe(200);
  templateBefore = (await kube.get(DEPLOYMENT)).json.spec.template;
  pods = await runKeycloakDeployment(
    kube,
    (env) => startKeycloak(TAG, undefined, env),
    { namespace: "keycloak", name: "keycloak", container: "keycloak" },
    {
      keycloak: first,
      pod: { generation: 1, image: ORIGINAL_IMAGE, version: "26.4.7", features: "", hostAliases: [] },
    },
  );

  const ns = await clusterB.kube.request("POST", "/api/v1/namespaces", { metadata: { name: ONLY_IN_B } });
  expect(ns.status, ns.text).toBe(201);
  s = await scratchStack("dev", standIns().env);
  portB = freePort();
  await useTestBed(s.stack, {
    apiServer: gatewayApi,
    tag: TAG,
    port: freePort(),
    keycloak: first,
    useCase: "cross-domain",
  });
  await s.stack.setAllConfig(
    {
      "inClusterKeycloak.patch": { value: "true" },
      "domains[0].name": { value: "b" },
      "domains[0].realm": { value: "cluster-b" },
      "domains[0].kubeconfig": { value: fs.readFileSync(clusterB.kubeconfig, "utf8"), secret: true },
      "domains[0].port": { value: String(portB) },
      "domains[0].host": { value: "kube-b.mcp.test" },
    },
    true,
  );
  up = await s.stack.up({ onOutput: (o) => process.stderr.write(o) });
  // Three Keycloak starts (the pod as deployed, then one per template the stack leaves), ~30-45 s each.
}, 900_000);

afterAll(async () => {
  await tearDownStack(s);
  pods?.stop();
  clusterB?.stop();
  gatewayApi?.stop();
});

describe("use case 3 on the gateway's own Keycloak, patched by the stack", () => {
  it("up patches the Deployment: the new image, the old one kept, the host alias to the Gateway, the truststore", async () => {
    const d = (await gatewayApi.kube.get(DEPLOYMENT)).json;
    expect(d.metadata.annotations[ANNOTATION]).toBe(ORIGINAL_IMAGE);
    const pod = d.spec.template.spec;
    const [container] = pod.containers;
    expect(container.image).toBe(DEFAULT_CHAINING_IMAGE);
    expect(pod.hostAliases).toEqual([{ ip: GATEWAY_ADDRESS, hostnames: [new URL(kc().url).hostname] }]);
    const trust = container.env.find((e: { name: string }) => e.name === "KC_TRUSTSTORE_PATHS");
    expect(trust.value).toMatch(/^\/opt\/keycloak\/conf\/.*\/ca\.crt$/);
    // 26.7 has the grant by default: no feature flag.
    expect(container.env.map((e: { name: string }) => e.name)).not.toContain("KC_FEATURES");
    const ca = (await gatewayApi.kube.get(CA_CONFIGMAP)).json.data["ca.crt"];
    expect(ca).toBe(fs.readFileSync(kc().ca, "utf8"));
  });

  it("the running Keycloak is the template's: 26.7.3, the mounted CA as its truststore, started anew", () => {
    const last = pods.starts[pods.starts.length - 1];
    expect(last).toMatchObject({ version: "26.7.3", features: "", image: DEFAULT_CHAINING_IMAGE });
    expect(fs.readFileSync(last.truststore!, "utf8")).toBe(fs.readFileSync(kc().ca, "utf8"));
    // The pod as deployed; then, as the patch and the image come, pods that trust the gateway's CA.
    expect(pods.starts[0].version).toBe("26.4.7");
    expect(pods.starts[0].truststore).toBeUndefined();
    for (const pod of pods.starts.slice(1)) expect(pod.truststore).toBeDefined();
  });

  it("the chain works on it: mcp's realm-mcp token becomes realm cluster-b's, which cluster b and b's server take", async () => {
    const login = await passwordLogin(kc());
    const caller = await login("mcp", "mcp");
    const rules = (await gatewayApi.kube.get(POLICY_B)).json.spec.rules as { metadata: Record<string, MetadataStep> };
    const run = await runMetadata(rules.metadata, {
      headers: { authorization: `Bearer ${caller}`, "x-mcp-servername": SERVER_B },
      identity: claimsOf(caller),
      ca: kc().ca,
      apiServer: gatewayApi,
    });
    expect(run.steps.map((st) => [st.name, st.status])).toEqual([
      ["gateway-domain-exchange", 200],
      ["domain-grant", 200],
      ["oauth-token-exchange", 200],
    ]);
    const final = run.byName["oauth-token-exchange"].json.access_token;
    expect(claimsOf(final)).toMatchObject({ iss: `${kc().url}/realms/cluster-b`, aud: SERVER_B });
    const access = claimsOf(final).resource_access as Record<string, { roles: string[] }>;
    expect([...access[SERVER_B].roles].sort()).toEqual([...GUIDE_TOOLS].sort());
    // Cluster b's API server started before the stack made realm cluster-b: it fetches the realm's
    // keys in the background, with backoff, so the first tokens may come before it has them.
    await untilAccepted(clusterB, final);
    const review = await selfSubjectReview(clusterB, final);
    expect(review.status, review.text).toBe(201);
    const result = await callTool(`http://127.0.0.1:${portB}/mcp`, "namespaces_list", final);
    expect(result.isError, result.text).toBe(false);
    expect(result.text).toContain(ONLY_IN_B);
  });

  it("keeps the gateway certificate's private key out of state, files and logs", () => {
    const key = fs.readFileSync(path.join(kc().dir, "tls.key"), "utf8").split("\n")[1];
    for (const [where, text] of Object.entries(persistedTexts(s))) expect(text.includes(key), where).toBe(false);
  });

  it("a second up changes nothing on the Keycloak: no new pod, the Deployment untouched", async () => {
    const generation = (await gatewayApi.kube.get(DEPLOYMENT)).json.metadata.generation;
    const starts = pods.starts.length;
    const changed = stepCounter("update");
    const again = await s.stack.up({ onEvent: changed.onEvent });
    // The Gateway's address and the CA Secret are read again (two reads), then nothing else changes.
    expect(again.summary.resourceChanges).toMatchObject({ read: 2 });
    expect(Object.keys(again.summary.resourceChanges ?? {}).sort()).toEqual(["read", "same", "update"]);
    // pulumi-kubernetes 4.25 diffs a Patch's map lists by position (README, Known gaps): both
    // patches show an update that applies the same fields again, so the Deployment keeps its generation.
    expect(Object.keys(changed.counts).sort()).toEqual([
      "kubernetes:apps/v1:DeploymentPatch",
      "kubernetes:gateway.networking.k8s.io/v1:GatewayPatch",
    ]);
    expect((await gatewayApi.kube.get(DEPLOYMENT)).json.metadata.generation).toBe(generation);
    expect(pods.starts).toHaveLength(starts);
    expect(up.summary.resourceChanges).toMatchObject({ create: expect.any(Number) });
  });

  it("destroy puts the Deployment back as the setup left it and removes the CA ConfigMap", async () => {
    await s.stack.destroy();
    await pods.settled();
    const d = (await gatewayApi.kube.get(DEPLOYMENT)).json;
    expect(d.spec.template).toEqual(templateBefore);
    expect(d.metadata.annotations?.[ANNOTATION]).toBeUndefined();
    expect((await gatewayApi.kube.get(CA_CONFIGMAP)).status).toBe(404);
    expect(pods.starts[pods.starts.length - 1]).toMatchObject({ version: "26.4.7", truststore: undefined });
  });
});
