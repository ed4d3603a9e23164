import * as fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApiServer, type ApiServer } from "../../testbed/apiserver/apiServer";
import { scratchStack, stepCounter, type Scratch } from "../../testbed/engine/engine";
import { tearDownStack, useTestBed } from "../../testbed/engine/useTestBed";
import type { Api } from "../../testbed/https";
import { startKeycloak, type Keycloak } from "../../testbed/keycloak/keycloak";
import { freePort } from "../../testbed/processes";
import { standIns } from "../../testbed/standins/standIns";

// The realm of the guide's merge (guide-fd2e9da) already holds the client mcp-test/kubernetes-mcp,
// its 22 roles, the group engineering holding them and mcp in it. `create` would end in 409
// Conflict; `reference` adopts them, and destroy must leave the realm exactly as it was.
const TAG = "guide-fd2e9da";
const REALM = "/admin/realms/mcp";

let keycloak: Keycloak;
let apiServer: ApiServer;
let s: Scratch;

/** What the realm import owns: client settings, its roles, the group's mappings, mcp's groups. */
async function realmSnapshot(admin: Api) {
  const [client] = (await admin.get(`${REALM}/clients?clientId=${encodeURIComponent("mcp-test/kubernetes-mcp")}`)).json;
  const roles = (await admin.get(`${REALM}/clients/${client.id}/roles`)).json.map((r: any) => r.name).sort();
  const group = (await admin.get(`${REALM}/groups?search=engineering&exact=true`)).json.find(
    (g: any) => g.name === "engineering",
  );
  const mapped = (await admin.get(`${REALM}/groups/${group.id}/role-mappings`)).json;
  const [user] = (await admin.get(`${REALM}/users?username=mcp&exact=true`)).json;
  const groups = (await admin.get(`${REALM}/users/${user.id}/groups`)).json.map((g: any) => g.name).sort();
  return { client, roles, group, mapped, groups };
}

beforeAll(async () => {
  keycloak = await startKeycloak(TAG);
  apiServer = startApiServer({ keycloak, tag: TAG });
  s = await scratchStack("dev", standIns().env);
  await useTestBed(s.stack, { apiServer, tag: TAG, port: freePort(), keycloak, useCase: "oidc" });
});

afterAll(async () => {
  await tearDownStack(s);
  apiServer?.stop();
  keycloak?.stop();
});

describe("the guide's merge realm (guide-fd2e9da): reference adopts, destroy keeps the realm", () => {
  let before: Awaited<ReturnType<typeof realmSnapshot>>;

  it("the realm import already has the client, 22 roles, the group with them and mcp in it", async () => {
    before = await realmSnapshot(await keycloak.admin());
    expect(before.roles).toHaveLength(22);
    expect(before.mapped.clientMappings["mcp-test/kubernetes-mcp"].mappings).toHaveLength(22);
    expect(before.groups).toContain("engineering");
  });

  it("a CA that does not verify Keycloak, or a URL that is not the realm's issuer, stops in the preflight saying what came back", async () => {
    const upError = () =>
      s.stack.up().then(
        () => new Error("up succeeded"),
        (e: Error) => e,
      );
    await s.stack.setConfig("keycloak.rootCaCertificate", { value: fs.readFileSync(apiServer.ca, "utf8") }, true);
    expect((await upError()).message).toMatch(
      /keycloak\.rootCaCertificate = \(a PEM certificate\): Keycloak's certificate at https:\/\/127\.0\.0\.1:\d+ does not verify against it: .*\((SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\); set keycloak\.rootCaCertificate/,
    );
    await s.stack.setConfig("keycloak.rootCaCertificate", { value: fs.readFileSync(keycloak.ca, "utf8") }, true);
    // The test Keycloak's certificate also names localhost, but Keycloak calls itself 127.0.0.1.
    const viaLocalhost = keycloak.url.replace("127.0.0.1", "localhost");
    await s.stack.setConfig("keycloak.url", { value: viaLocalhost }, true);
    expect((await upError()).message).toContain(
      `mcp-gateway-stack:keycloak.url = '${viaLocalhost}': the stack expects tokens issued by '${viaLocalhost}/realms/mcp', but realm 'mcp' names its issuer '${keycloak.issuer}'`,
    );
    await s.stack.setConfig("keycloak.url", { value: keycloak.url }, true);
    const resources: Array<{ type: string }> = (await s.stack.exportStack()).deployment.resources ?? [];
    expect(resources.filter((r) => r.type !== "pulumi:pulumi:Stack")).toEqual([]);
  });

  it("create mode stops in the preflight, before anything is created, and says to use reference", async () => {
    const error = await s.stack.up().then(
      () => new Error("up succeeded"),
      (e: Error) => e,
    );
    expect(error.message).toContain(
      "mcp-gateway-stack:keycloak.existingObjects = 'create': realm 'mcp' already has client 'mcp-test/kubernetes-mcp'",
    );
    const resources: Array<{ type: string }> = (await s.stack.exportStack()).deployment.resources ?? [];
    expect(resources.filter((r) => r.type !== "pulumi:pulumi:Stack")).toEqual([]);
  });

  it("a wrong admin password stops in the preflight too, naming the key but not the value", async () => {
    await s.stack.setConfig("keycloak.adminPassword", { value: "wrong-password-3d9a", secret: true }, true);
    const error = await s.stack.up().then(
      () => new Error("up succeeded"),
      (e: Error) => e,
    );
    expect(error.message).toContain("mcp-gateway-stack:keycloak.adminPassword = (secret): Keycloak at");
    expect(error.message).toContain("the admin login of 'admin' was refused (HTTP 401)");
    expect(error.message).not.toContain("wrong-password-3d9a");
    await s.stack.setConfig("keycloak.adminPassword", { value: keycloak.adminPassword, secret: true }, true);
  });

  it("reference mode adopts them with no write to Keycloak", async () => {
    await s.stack.setConfig("keycloak.existingObjects", { value: "reference" }, true);
    const creates = stepCounter("create");
    const result = await s.stack.up({ onEvent: creates.onEvent });
    expect(result.summary.result).toBe("succeeded");
    const keycloakWrites = Object.keys(creates.counts).filter(
      (t) => t.startsWith("keycloak:") && t !== "pulumi:providers:keycloak",
    );
    expect(keycloakWrites).toEqual([]);
    expect((await s.stack.outputs()).keycloakClientId.value).toBe("mcp-test/kubernetes-mcp");
    // Nothing to do on the second run: the lookups read the same objects again.
    const updates = stepCounter("update");
    const preview = await s.stack.preview({ onEvent: updates.onEvent });
    expect(updates.counts).toEqual({ "kubernetes:gateway.networking.k8s.io/v1:GatewayPatch": 1 });
    expect(preview.changeSummary.create ?? 0).toBe(0);
  });

  it("destroy leaves the imported objects exactly as they were", async () => {
    const result = await s.stack.destroy();
    expect(result.summary.result).toBe("succeeded");
    expect(await realmSnapshot(await keycloak.admin())).toEqual(before);
  });
});
