import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { basicCredentials, domainChainMetadata } from "../../components/domainChain";
import { DOMAIN_ROLE, GATEWAY_IDP_ALIAS, GRANT_CLIENT_ID } from "../../components/domainTrust";
import { GUIDE_TOOLS } from "../../components/tools";
import { selfSubjectReview, startApiServer, type ApiServer } from "../../testbed/apiserver/apiServer";
import { resend, runMetadata, type MetadataStep, type StepOutcome } from "../../testbed/authz/metadata";
import type { Api } from "../../testbed/https";
import { claimsOf } from "../../testbed/jwt";
import { passwordLogin, printClaims, startKeycloak, type Keycloak } from "../../testbed/keycloak/keycloak";
import { createRealm, createUser, type Realm } from "../../testbed/keycloak/realms";

// Use case 3 (cross-domain) on the real Keycloak, without the stack: the gateway's realm A (`mcp`
// of guide-fd2e9da) and a realm `cluster-b` on the same Keycloak (started with the preview feature
// jwt-authorization-grant and trusting its own CA for realm B's fetch of realm A's JWKS), configured
// over the admin REST API as the stack declares them; the three metadata steps of
// components/domainChain.ts run as Authorino runs them (runMetadata) with the user's realm-A token;
// cluster B's API server trusts realm B only.
const TAG = "guide-fd2e9da";
const SERVER_B = "mcp-test/kubernetes-mcp-b";
const GATEWAY_SECRET = "token-exchange"; // use case 2's: mcp-gateway of realm A
const DOMAIN_SECRET = "token-exchange-cluster-b";
const REALM_B_SECRET = "realm-b-gateway-secret-7e3a";
const UNLINKED = { username: "unlinked", password: "unlinked-pw-2c9f" };
const A = "/admin/realms/mcp";

let keycloak: Keycloak;
let realmB: Realm;
/** The gateway's cluster: holds the two Basic Secrets in kuadrant-system. */
let gatewayApi: ApiServer;
/** Cluster B: --oidc-issuer-url = realm B, --oidc-client-id = mcp-test/kubernetes-mcp-b. */
let clusterB: ApiServer;
let admin: Api;
let login: (username: string, password: string) => Promise<string>;
let metadata: Record<string, MetadataStep>;
let mcpIdA: string;
let mcpIdB: string;
const tokens: Record<string, string> = {};
let chain: Awaited<ReturnType<typeof runMetadata>>;

const idOf = async (realmPath: string, clientId: string) =>
  (await admin.get(`${realmPath}/clients?clientId=${encodeURIComponent(clientId)}`)).json[0].id as string;
const groupId = async (realmPath: string, name: string) =>
  (await admin.get(`${realmPath}/groups?search=${name}&exact=true`)).json.find((g: any) => g.name === name)
    .id as string;
const userId = async (realmPath: string, username: string) =>
  (await admin.get(`${realmPath}/users?username=${username}&exact=true`)).json[0].id as string;

async function ok(res: Promise<{ status: number; text: string }>, what: string) {
  const r = await res;
  if (r.status >= 300) throw new Error(`${what}: HTTP ${r.status} ${r.text}`);
  return r;
}

/** POST to an admin collection (clients, users, groups, client-scopes); the new object's id, read back by its name. */
async function create(collection: string, body: any, what: string): Promise<string> {
  const res = await admin.request("POST", collection, body);
  if (res.status !== 201) throw new Error(`${what}: HTTP ${res.status} ${res.text}`);
  const realmPath = collection.replace(/\/(clients|users|groups|client-scopes)$/, "");
  if (collection.endsWith("/clients")) return idOf(realmPath, body.clientId);
  if (collection.endsWith("/users")) return userId(realmPath, body.username);
  if (collection.endsWith("/client-scopes"))
    return (await admin.get(`${realmPath}/client-scopes`)).json.find((c: any) => c.name === body.name).id;
  return groupId(realmPath, body.name);
}

/** Client roles `roles` of client `clientUuid` mapped to group `group` of the realm at `realmPath`. */
async function mapClientRoles(realmPath: string, group: string, clientUuid: string, roles: string[]) {
  const reps = await Promise.all(
    roles.map(async (r) => (await admin.get(`${realmPath}/clients/${clientUuid}/roles/${encodeURIComponent(r)}`)).json),
  );
  await ok(
    admin.request("POST", `${realmPath}/groups/${group}/role-mappings/clients/${clientUuid}`, reps),
    `map ${roles.length} roles`,
  );
}

const show = (label: string, token: string) => printClaims("domainchain", label, token);

const run = (callerJwt: string) =>
  runMetadata(metadata, {
    headers: { authorization: `Bearer ${callerJwt}`, "x-mcp-servername": SERVER_B },
    identity: claimsOf(callerJwt) as Record<string, unknown>,
    ca: keycloak.ca,
    apiServer: gatewayApi,
  });

beforeAll(async () => {
  keycloak = await startKeycloak(TAG);
  realmB = await createRealm(keycloak, "cluster-b");
  gatewayApi = startApiServer({ keycloak, tag: TAG });
  clusterB = startApiServer({ keycloak, tag: TAG, issuer: realmB.issuer, clientId: SERVER_B });
  admin = await keycloak.admin();
  const B = realmB.adminPath;
  const issuerA = keycloak.issuer;

  // Realm A. Test bed only: a password login at mcp-gateway instead of a browser.
  login = await passwordLogin(keycloak);
  const gw = (await admin.get(`${A}/clients?clientId=mcp-gateway`)).json[0];
  // The guide's realm gives mcp-gateway no `basic` client scope, so its tokens carry no `sub`, and
  // realm B refuses such an assertion ("Missing claim: sub"): the grant finds the linked user by the
  // assertion's sub. A sub mapper on the client itself (non-authoritative; the alternative is adding
  // the `basic` scope to its default scopes, which ClientDefaultScopes would own as a whole).
  await ok(
    admin.request("POST", `${A}/clients/${gw.id}/protocol-mappers/models`, {
      name: "sub",
      protocol: "openid-connect",
      protocolMapper: "oidc-sub-mapper",
      config: { "access.token.claim": "true", "introspection.token.claim": "true" },
    }),
    "mcp-gateway sub mapper",
  );
  // The client that stands for realm B (as DomainTrust declares it): clientId = realm B's issuer,
  // one role mapped to the group engineering.
  const bInA = await create(
    `${A}/clients`,
    {
      clientId: realmB.issuer,
      description: "The audience of tokens for the realm cluster-b",
      protocol: "openid-connect",
      publicClient: true,
      standardFlowEnabled: false,
      fullScopeAllowed: false,
    },
    "realm A client <B issuer>",
  );
  await ok(admin.request("POST", `${A}/clients/${bInA}/roles`, { name: DOMAIN_ROLE }), `role ${DOMAIN_ROLE}`);
  await mapClientRoles(A, await groupId(A, "engineering"), bInA, [DOMAIN_ROLE]);
  mcpIdA = await userId(A, "mcp");
  // A user of realm A in engineering whom realm B does not know.
  await createUser(admin, A, { ...UNLINKED, groups: ["/engineering"] });

  // Realm B: the identity provider trusting realm A's tokens for the JWT authorization grant.
  await ok(
    admin.request("POST", `${B}/identity-provider/instances`, {
      alias: GATEWAY_IDP_ALIAS,
      providerId: "oidc",
      enabled: true,
      hideOnLogin: true,
      linkOnly: true,
      config: {
        issuer: issuerA,
        useJwksUrl: "true",
        jwksUrl: `${issuerA}/protocol/openid-connect/certs`,
        validateSignature: "true",
        jwtAuthorizationGrantEnabled: "true",
        // Required by the resource (the oidc provider type, for browser brokering), unused by the grant.
        authorizationUrl: `${issuerA}/protocol/openid-connect/auth`,
        tokenUrl: `${issuerA}/protocol/openid-connect/token`,
        clientId: realmB.issuer,
      },
    }),
    "realm B IdP gateway",
  );
  await create(
    `${B}/clients`,
    {
      clientId: GRANT_CLIENT_ID,
      protocol: "openid-connect",
      publicClient: false,
      secret: REALM_B_SECRET,
      standardFlowEnabled: false,
      directAccessGrantsEnabled: false,
      attributes: {
        "oauth2.jwt.authorization.grant.enabled": "true",
        "oauth2.jwt.authorization.grant.idp": GATEWAY_IDP_ALIAS,
        "standard.token.exchange.enabled": "true",
      },
    },
    `realm B client ${GRANT_CLIENT_ID}`,
  );
  // The last step asks for `openid profile` only: a new realm has no `groups` client scope, and the
  // cluster binds the user, not a group (components/domainChain.ts).
  const serverB = await create(
    `${B}/clients`,
    { clientId: SERVER_B, protocol: "openid-connect", publicClient: true, fullScopeAllowed: false },
    `realm B client ${SERVER_B}`,
  );
  for (const tool of GUIDE_TOOLS)
    await ok(admin.request("POST", `${B}/clients/${serverB}/roles`, { name: tool }), `role ${tool}`);
  const engB = await create(`${B}/groups`, { name: "engineering" }, "realm B group engineering");
  await mapClientRoles(B, engB, serverB, [...GUIDE_TOOLS]);
  // As DomainTrust: only the username and the link (realm A's user id, the assertions' sub).
  mcpIdB = await create(
    `${B}/users`,
    {
      username: "mcp",
      enabled: true,
      federatedIdentities: [{ identityProvider: GATEWAY_IDP_ALIAS, userId: mcpIdA, userName: "mcp" }],
    },
    "realm B user mcp",
  );
  await ok(admin.request("PUT", `${B}/users/${mcpIdB}/groups/${engB}`), "realm B mcp in engineering");

  // The gateway cluster's Secrets (Authorino's namespace), as the stack writes them.
  await ok(
    gatewayApi.kube.request("POST", "/api/v1/namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: "kuadrant-system" },
    }),
    "namespace kuadrant-system",
  );
  for (const [name, id, secret] of [
    [GATEWAY_SECRET, "mcp-gateway", "secret"],
    [DOMAIN_SECRET, GRANT_CLIENT_ID, REALM_B_SECRET],
  ])
    await ok(
      gatewayApi.kube.request("POST", "/api/v1/namespaces/kuadrant-system/secrets", {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name },
        stringData: { "oauth-client-basic-auth": basicCredentials(id, secret) },
      }),
      `Secret ${name}`,
    );
  // Cluster B's binding for realm B's user.
  await ok(
    clusterB.kube.request("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: "oidc-mcp-cluster-b" },
      // cluster-admin as use case 2's binding (view is aggregated: empty without the controller-manager's aggregator).
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: `${realmB.issuer}#mcp` }],
    }),
    "ClusterRoleBinding",
  );

  metadata = domainChainMetadata({
    gatewayIssuerUrl: issuerA,
    domainIssuerUrl: realmB.issuer,
    gatewayClientSecret: GATEWAY_SECRET,
    domainClientSecret: DOMAIN_SECRET,
  });
});

afterAll(() => {
  clusterB?.stop();
  gatewayApi?.stop();
  keycloak?.stop();
});

const token = (o: StepOutcome | undefined) => o?.json?.access_token as string | undefined;

describe("use case 3 on the real Keycloak: the chain of domainChainMetadata, run as Authorino does", () => {
  it("mcp's realm-A token carries realm B's issuer as an audience (its client role via engineering)", async () => {
    tokens.caller = await login("mcp", "mcp");
    const c = show("caller (realm A login)", tokens.caller);
    expect(c.iss).toBe(keycloak.issuer);
    expect(c.sub).toBe(mcpIdA);
    expect(c.aud).toContain(realmB.issuer);
    expect(c.resource_access[realmB.issuer].roles).toEqual([DOMAIN_ROLE]);
  });

  it("runs the three steps in priority order, each answering HTTP 200", async () => {
    chain = await run(tokens.caller);
    expect(chain.steps.map((o) => [o.name, o.priority, o.skipped])).toEqual([
      ["gateway-domain-exchange", 0, false],
      ["domain-grant", 1, false],
      ["oauth-token-exchange", 2, false],
    ]);
    for (const o of chain.steps) expect(o.status, `${o.name}: ${JSON.stringify(o.json)}`).toBe(200);
    // Each step took the previous answer's token (auth.metadata), Basic credentials from its Secret.
    const [s0, s1, s2] = chain.steps;
    expect(s0.request!.body.subject_token).toBe(tokens.caller);
    expect(s1.request!.body.assertion).toBe(token(s0));
    expect(s2.request!.body.subject_token).toBe(token(s1));
    expect(s0.request!.authorization).toBe(`Basic ${basicCredentials("mcp-gateway", "secret")}`);
    expect(s1.request!.authorization).toBe(`Basic ${basicCredentials(GRANT_CLIENT_ID, REALM_B_SECRET)}`);
    tokens.step0 = token(s0)!;
    tokens.step1 = token(s1)!;
    tokens.final = token(s2)!;
  });

  it("step 0 (exchange in realm A): the same user, audience exactly realm B's issuer", () => {
    const c = show("step 0 gateway-domain-exchange", tokens.step0);
    expect(c.iss).toBe(keycloak.issuer);
    expect(c.aud).toBe(realmB.issuer);
    expect(c.azp).toBe("mcp-gateway");
    expect(c.sub).toBe(mcpIdA);
    // No scope requested: V2 gives only the client's default scopes (no profile: no preferred_username).
    expect(c.scope).toBe("openid");
  });

  it("step 1 (JWT authorization grant at realm B): realm B's user linked to realm A's mcp", () => {
    const c = show("step 1 domain-grant", tokens.step1);
    expect(c.iss).toBe(realmB.issuer);
    expect(c.azp).toBe(GRANT_CLIENT_ID);
    expect(c.sub).toBe(mcpIdB);
    expect(c.sub).not.toBe(mcpIdA);
    expect(c.preferred_username).toBe("mcp");
    expect(chain.byName["domain-grant"].json.refresh_token).toBeUndefined();
  });

  it("step 2 (exchange in realm B): audience the server's client, holding the group's tool roles", () => {
    const c = show("step 2 oauth-token-exchange (final)", tokens.final);
    expect(c.iss).toBe(realmB.issuer);
    expect(c.aud).toBe(SERVER_B);
    expect(c.azp).toBe(GRANT_CLIENT_ID);
    expect(c.sub).toBe(mcpIdB);
    expect(c.preferred_username).toBe("mcp");
    expect([...c.resource_access[SERVER_B].roles].sort()).toEqual([...GUIDE_TOOLS].sort());
    expect(c.groups).toBeUndefined();
  });

  it("cluster B's API server takes the final token for <realm-B issuer>#mcp and lets it list namespaces", async () => {
    const review = await selfSubjectReview(clusterB, tokens.final);
    expect(review.status, review.text).toBe(201);
    expect(review.json.status.userInfo.username).toBe(`${realmB.issuer}#mcp`);
    expect(review.json.status.userInfo.groups).toEqual(["system:authenticated"]);
    const list = await clusterB.kube.withToken(tokens.final).get("/api/v1/namespaces");
    expect(list.status, list.text).toBe(200);
  });

  it("cluster B refuses the realm-A tokens (caller and step 0); the gateway's own cluster takes the caller's", async () => {
    for (const t of [tokens.caller, tokens.step0]) expect((await selfSubjectReview(clusterB, t)).status).toBe(401);
    // The gateway's own cluster (realm A, mcp-test/kubernetes-mcp) takes the caller's token.
    expect(gatewayApi.oidcIssuer).toBe(keycloak.issuer);
    const review = await selfSubjectReview(gatewayApi, tokens.caller);
    expect(review.status, review.text).toBe(201);
    expect(review.json.status.userInfo.username).toBe(`${keycloak.issuer}#mcp`);
  });

  it("the step-1 token already authenticates at cluster B (its aud holds the server), but not only for it", async () => {
    // The grant client has the full scope, so the audience resolver adds every client whose roles the
    // user holds: aud [account, the server]. The policy's scoped-audience check wants aud == the
    // server: hence step 2.
    const c = claimsOf(tokens.step1) as { aud: string[] };
    expect([...c.aud].sort()).toEqual(["account", SERVER_B]);
    const review = await selfSubjectReview(clusterB, tokens.step1);
    expect(review.status, review.text).toBe(201);
    expect(review.json.status.userInfo.username).toBe(`${realmB.issuer}#mcp`);
  });

  it("replaying step 0's token at realm B: Token reuse detected", async () => {
    const replay = await resend(chain.byName["domain-grant"].request!, keycloak.ca);
    expect(replay.status, replay.text).toBe(400);
    expect(replay.json).toEqual({ error: "invalid_grant", error_description: "Token reuse detected" });
  });

  it("a realm-A user realm B does not link: the grant fails with User not found, no final token", async () => {
    tokens.unlinked = await login(UNLINKED.username, UNLINKED.password);
    const r = await run(tokens.unlinked);
    const [s0, s1, s2] = r.steps;
    expect(s0.status, JSON.stringify(s0.json)).toBe(200);
    show("unlinked: step 0", token(s0)!);
    expect(s1.status).toBe(400);
    expect(s1.json).toEqual({ error: "invalid_grant", error_description: "User not found" });
    console.log(`domainchain: unlinked: step 1 HTTP ${s1.status} ${JSON.stringify(s1.json)}; step 2: ${s2.error}`);
    expect(s2.request).toBeUndefined();
    expect(s2.error).toMatch(/^subject_token: /);
    expect(token(s2)).toBeUndefined();
    expect(r.metadata["oauth-token-exchange"]).toBeUndefined();
  });
});
