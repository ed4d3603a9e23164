import * as fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApiServer, untilAccepted, type ApiServer } from "../../testbed/apiserver/apiServer";
import { exchangedUserToken, runMetadata } from "../../testbed/authz/metadata";
import { scratchStack, type Scratch } from "../../testbed/engine/engine";
import { tearDownStack, useTestBed } from "../../testbed/engine/useTestBed";
import { claimsOf } from "../../testbed/jwt";
import { passwordLogin, startKeycloak, type Keycloak } from "../../testbed/keycloak/keycloak";
import { createRealm } from "../../testbed/keycloak/realms";
import { callTool } from "../../testbed/mcp";
import { freePort } from "../../testbed/processes";
import { standIns } from "../../testbed/standins/standIns";

// The Keycloak versions users get, beside the test bed's default (26.5.6, every other e2e file):
// 26.4 is Kuadrant v0.9.0's pin (26.4.7, the newest 26.4 on Maven Central), 26.7.3 the newest.
// Per version one Keycloak, and on it use case 2 (up, user mcp's token exchanged for the server,
// namespaces_list through the stack's kubernetes-mcp-server, destroy) and use case 3 (up with
// cluster b, the chain as b's applied AuthPolicy describes it, namespaces_list through b's server,
// destroy). Before 26.5 Keycloak has no JWT authorization grant: the preflight must refuse use case
// 3 naming it. Use case 1 needs no Keycloak. The table printed at the end is testbed/keycloak/README.md's.
const TAG = "guide-397bf8d";
const SERVER_B = "mcp-test/kubernetes-mcp-b";
const ONLY_IN_B = "only-in-cluster-b";
const POLICY_B = "/apis/kuadrant.io/v1/namespaces/mcp-test/authpolicies/kubernetes-mcp-b-auth-policy";
const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/** `chaining`: the version offers the JWT authorization grant (26.5+), so use case 3 goes up. */
const VERSIONS = [
  { version: "26.4.7", chaining: false },
  { version: "26.7.3", chaining: true },
];

const rows: string[] = [];
const seconds = (t0: number) => ((Date.now() - t0) / 1000).toFixed(1);

/** namespaces_list through the server on `port` with `token` answers and names `namespace`. */
async function expectNamespacesList(port: number, token: string, namespace: string): Promise<void> {
  const result = await callTool(`http://127.0.0.1:${port}/mcp`, "namespaces_list", token);
  expect(result.isError, result.text).toBe(false);
  expect(result.text).toContain(namespace);
}

afterAll(() => {
  if (rows.length > 0)
    console.log(
      [
        "| Keycloak | use case | result | seconds (of which `up`) | Keycloak start (s) |",
        "|---|---|---|---|---|",
        ...rows,
      ].join("\n"),
    );
});

for (const { version, chaining } of VERSIONS) {
  describe(`Keycloak ${version}`, () => {
    let keycloak: Keycloak;
    let startSeconds: string;
    const row = (useCase: string, result: string, t0: number, up: string) =>
      rows.push(`| ${version} | ${useCase} | ${result} | ${seconds(t0)} (${up}) | ${startSeconds} |`);
    /** `up` of the stack, and how long it took. */
    const timedUp = async (s: Scratch) => {
      const t0 = Date.now();
      const result = await s.stack.up().then(
        (r) => ({ ok: r.summary.result === "succeeded", error: new Error(`up: ${r.summary.result}`) }),
        (e: Error) => ({ ok: false, error: e }),
      );
      return { ...result, seconds: seconds(t0) };
    };

    beforeAll(async () => {
      const t0 = Date.now();
      keycloak = await startKeycloak(TAG, version);
      startSeconds = seconds(t0);
      const discovery = await keycloak.api.get("/realms/mcp/.well-known/openid-configuration");
      expect(discovery.json.grant_types_supported.includes(JWT_BEARER)).toBe(chaining);
    });

    afterAll(() => keycloak?.stop());

    it("use case 2: up, mcp's token exchanged for the server, namespaces_list through the stack's server, destroy", async () => {
      const t0 = Date.now();
      const apiServer = startApiServer({ keycloak, tag: TAG });
      let s: Scratch | undefined;
      try {
        s = await scratchStack("dev", standIns().env);
        const port = freePort();
        await useTestBed(s.stack, { apiServer, tag: TAG, port, keycloak, useCase: "oidc" });
        const up = await timedUp(s);
        expect(up.ok, up.error.message).toBe(true);
        const login = await passwordLogin(keycloak);
        const token = await exchangedUserToken(keycloak, apiServer, login);
        await untilAccepted(apiServer, token);
        await expectNamespacesList(port, token, "mcp-test");
        expect((await s.stack.destroy()).summary.result).toBe("succeeded");
        row("2 (oidc)", "passed", t0, up.seconds);
      } finally {
        await tearDownStack(s);
        apiServer.stop();
      }
    });

    it(`use case 3: ${chaining ? "up with cluster b, the chain's token lists b's namespaces through b's server, destroy" : "the preflight refuses, naming the missing JWT authorization grant"}`, async () => {
      const t0 = Date.now();
      // As crossdomain.test.ts: realm cluster-b on the same Keycloak, cluster b's API server trusting it.
      const realmB = await createRealm(keycloak, "cluster-b");
      const gatewayApi = startApiServer({ keycloak, tag: TAG });
      let clusterB: ApiServer | undefined;
      let s: Scratch | undefined;
      try {
        clusterB = startApiServer({ keycloak, tag: TAG, issuer: realmB.issuer, clientId: SERVER_B });
        const ns = await clusterB.kube.request("POST", "/api/v1/namespaces", { metadata: { name: ONLY_IN_B } });
        expect(ns.status, ns.text).toBe(201);
        s = await scratchStack("dev", standIns().env);
        const [port, portB] = [freePort(), freePort()];
        await useTestBed(s.stack, { apiServer: gatewayApi, tag: TAG, port, keycloak, useCase: "cross-domain" });
        await s.stack.setAllConfig(
          {
            "domains[0].name": { value: "b" },
            "domains[0].realm": { value: realmB.name },
            "domains[0].kubeconfig": { value: fs.readFileSync(clusterB.kubeconfig, "utf8"), secret: true },
            "domains[0].port": { value: String(portB) },
            "domains[0].host": { value: "kube-b.mcp.test" },
          },
          true,
        );
        if (!chaining) {
          const up = await timedUp(s);
          expect(up.ok).toBe(false);
          const refusal = `mcp-gateway-stack:domains[0].realm = 'cluster-b': Keycloak at ${keycloak.url} does not offer the JWT authorization grant (${JWT_BEARER})`;
          expect(up.error.message).toContain(refusal);
          const resources: Array<{ type: string }> = (await s.stack.exportStack()).deployment.resources ?? [];
          expect(resources.filter((r) => r.type !== "pulumi:pulumi:Stack")).toEqual([]);
          row(
            "3 (cross-domain)",
            "refused by the preflight: does not offer the JWT authorization grant",
            t0,
            up.seconds,
          );
          return;
        }
        const up = await timedUp(s);
        expect(up.ok, up.error.message).toBe(true);
        // The chain as Authorino runs b's AuthPolicy (the metadata steps as the gateway's API server holds them).
        const policy = await gatewayApi.kube.get(POLICY_B);
        expect(policy.status, policy.text).toBe(200);
        const caller = await (await passwordLogin(keycloak))("mcp", "mcp");
        const run = await runMetadata(policy.json.spec.rules.metadata, {
          headers: { authorization: `Bearer ${caller}`, "x-mcp-servername": SERVER_B },
          identity: claimsOf(caller),
          ca: keycloak.ca,
          apiServer: gatewayApi,
        });
        expect(run.steps.map((st) => [st.name, st.status])).toEqual([
          ["gateway-domain-exchange", 200],
          ["domain-grant", 200],
          ["oauth-token-exchange", 200],
        ]);
        const final = run.byName["oauth-token-exchange"].json.access_token as string;
        await untilAccepted(clusterB, final);
        await expectNamespacesList(portB, final, ONLY_IN_B);
        expect((await s.stack.destroy()).summary.result).toBe("succeeded");
        row("3 (cross-domain)", "passed", t0, up.seconds);
      } finally {
        await tearDownStack(s);
        clusterB?.stop();
        gatewayApi.stop();
      }
    });
  });
}
