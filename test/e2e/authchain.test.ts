import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { evaluate } from "@marcbachmann/cel-js";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GUIDE_TOOLS } from "../../components/tools";
import { selfSubjectReview, startApiServer, type ApiServer } from "../../testbed/apiserver/apiServer";
import { authorinoEvaluators } from "../../testbed/authz/authorino";
import { runMetadata, tokenExchangeBasic, type MetadataStep } from "../../testbed/authz/metadata";
import { REPO_ROOT, persistedTexts, scratchStack, type Scratch } from "../../testbed/engine/engine";
import { tearDownStack, useTestBed } from "../../testbed/engine/useTestBed";
import type { Api } from "../../testbed/https";
import { claimsOf } from "../../testbed/jwt";
import { passwordLogin, startKeycloak, type Keycloak } from "../../testbed/keycloak/keycloak";
import { createUser } from "../../testbed/keycloak/realms";
import { callTool, listTools } from "../../testbed/mcp";
import { freePort } from "../../testbed/processes";
import { standIns } from "../../testbed/standins/standIns";
import {
  CHAIN_CASES,
  OTHER_SERVER,
  REMOVED_TOOL,
  SERVER,
  decide,
  type CallerToken,
  type ChainRules,
  type ScopedToken,
} from "../support/authChain";

// Use case 2's chain with real parts: tokens from Keycloak for the realm's user `mcp` (and one of
// our own outside the group), the exchange the applied AuthPolicy's metadata step describes, sent
// to Keycloak with the credentials of the token-exchange Secret; the AuthPolicy's rules as the API
// server holds them, evaluated by Authorino's own go-oidc, OPA and cel-go (testbed/authz) on the
// shared case table (test/support/authChain.ts); then the exchanged token at the
// kubernetes-mcp-server the stack started, authenticated by the API server's OIDC flags from the
// Kind config and authorized by the stack's ClusterRoleBinding.
const TAG = "guide-397bf8d";
const AUTH_POLICY = "/apis/kuadrant.io/v1/namespaces/mcp-test/authpolicies/kubernetes-mcp-auth-policy";
const BINDING = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/oidc-mcp-cluster-admin";
const OUTSIDER = { username: "outsider", password: "outsider-pw-5d1e" };
const TOKEN_PATH = "/realms/mcp/protocol/openid-connect/token";
/** The realm import's client credentials everyone knows (upstream's token-exchange Secret). */
const WELL_KNOWN_BASIC = Buffer.from("mcp-gateway:secret").toString("base64");

let keycloak: Keycloak;
let apiServer: ApiServer;
let s: Scratch;
let port: number;
let admin: Api;
/** A password login at the gateway's client (test bed only). */
let login: (username: string, password: string) => Promise<string>;
/** The AuthPolicy's rules as the API server holds them. */
let applied: ChainRules & AppliedRules;
const callers: Partial<Record<CallerToken, string>> = {};
/** The first up's output and engine events, debug-level ones left out (README: "Secrets in debug events"). */
let upText = "";
const scoped: Partial<Record<Exclude<ScopedToken, null>, string>> = {};

/** The parts of the applied policy the chain reads beyond the decision's own. */
interface AppliedRules {
  authentication: { keycloak: { jwt: { issuerUrl: string } } };
  metadata: Record<string, MetadataStep> & {
    "oauth-token-exchange": MetadataStep & { http: { sharedSecretRef: { name: string; key: string } } };
  };
}

const mcpUrl = () => `http://127.0.0.1:${port}/mcp`;

/** The Basic value of the Secret the applied policy's exchange names. */
const basicCredentials = () =>
  tokenExchangeBasic(apiServer, applied.metadata["oauth-token-exchange"].http.sharedSecretRef);

/**
 * The AuthPolicy's metadata for a call to `server` carrying `callerJwt`, run as Authorino runs it
 * (runMetadata: its `when` on the caller's claims, the body parameters' CEL by cel-go, the Basic
 * credentials from the Secret it names). Keycloak's answer to the exchange step, as it came.
 */
async function exchangeAsThePolicyDoes(callerJwt: string, server: string) {
  const run = await runMetadata(applied.metadata, {
    headers: { authorization: `Bearer ${callerJwt}`, "x-mcp-servername": server },
    identity: claimsOf(callerJwt) as Record<string, unknown>,
    ca: keycloak.ca,
    apiServer,
  });
  const step = run.byName["oauth-token-exchange"];
  expect(step.skipped, "the exchange's when holds for a caller token of another audience").toBe(false);
  expect(step.error).toBeUndefined();
  return { status: step.status!, json: step.json, text: JSON.stringify(step.json) };
}

async function exchangedToken(callerJwt: string, server: string): Promise<string> {
  const res = await exchangeAsThePolicyDoes(callerJwt, server);
  if (res.status !== 200)
    throw new Error(`token exchange for audience ${server}: expected HTTP 200, got ${res.status} ${res.text}`);
  return res.json.access_token;
}

/** Authorino's evaluators, for real; the JavaScript CEL the unit tests use must agree on every case. */
const real = authorinoEvaluators({
  issuerUrl: () => applied.authentication.keycloak.jwt.issuerUrl,
  ca: () => keycloak.ca,
  onCel: (exprs, input, values) => {
    for (const [name, expr] of Object.entries(exprs)) expect(evaluate(expr, input), name).toEqual(values[name]);
  },
});

/** The README's by-hand block, run as written with bash against this test bed. */
async function byHand(extraEnv: Record<string, string> = {}) {
  const readme = fs.readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
  const block = readme.split("<!-- by-hand:start -->")[1].split("<!-- by-hand:end -->")[0];
  const script = block.replace(/^\s*```sh\n/, "").replace(/```\s*$/, "");
  const env = { KEYCLOAK: keycloak.url, KEYCLOAK_CA: keycloak.ca, MCP: mcpUrl(), BASIC: await basicCredentials() };
  return spawnSync("bash", ["-euo", "pipefail", "-c", script], {
    encoding: "utf8",
    env: { ...process.env, ...env, ...extraEnv },
  });
}

beforeAll(async () => {
  keycloak = await startKeycloak(TAG);
  apiServer = startApiServer({ keycloak, tag: TAG });
  s = await scratchStack("dev", standIns().env);
  port = freePort();
  await useTestBed(s.stack, { apiServer, tag: TAG, port, keycloak, useCase: "oidc" });
  const events: EngineEvent[] = [];
  const up = await s.stack.up({ onEvent: (e) => events.push(e) });
  const isDebug = (e: EngineEvent) => (e.diagnosticEvent?.severity as string | undefined) === "debug";
  upText = up.stdout + up.stderr + JSON.stringify(events.filter((e) => !isDebug(e)));
  expect(up.summary.result).toBe("succeeded");
  applied = (await apiServer.kube.get(AUTH_POLICY)).json.spec.rules;
  // Test bed only: direct access grants on for the gateway's client (off in the realm), so the
  // test logs users in with a password grant instead of a browser; and a user outside the group.
  admin = await keycloak.admin();
  login = await passwordLogin(keycloak);
  await createUser(admin, "/admin/realms/mcp", OUTSIDER);
});

afterAll(async () => {
  await tearDownStack(s);
  apiServer?.stop();
  keycloak?.stop();
});

/** The exchange of a user token for the MCP server's audience, authenticated with `basic`. */
const exchangeWith = (basic: string, subjectToken: string) =>
  keycloak.api.withAuthorization(`Basic ${basic}`).form(TOKEN_PATH, {
    grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
    subject_token: subjectToken,
    subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
    audience: SERVER,
  });

/** The gateway client's secret Keycloak holds now (admin API). */
async function gatewayClientSecretInKeycloak(): Promise<string> {
  const [client] = (await admin.get("/admin/realms/mcp/clients?clientId=mcp-gateway")).json;
  return (await admin.get(`/admin/realms/mcp/clients/${client.id}/client-secret`)).json.value;
}

describe("use case 2 with real tokens: the gateway client's credentials", () => {
  it("the token-exchange Secret holds mcp-gateway with the secret Keycloak generated, not the well-known one", async () => {
    const basic = await basicCredentials();
    const [id, secret] = Buffer.from(basic, "base64").toString("utf8").split(":");
    expect(id).toBe("mcp-gateway");
    expect(secret).not.toBe("secret");
    expect(secret.length).toBeGreaterThanOrEqual(32);
    expect(secret).toBe(await gatewayClientSecretInKeycloak());
  });

  it("Keycloak refuses the well-known mcp-gateway:secret after up, and takes the Secret's value", async () => {
    const userToken = await login("mcp", "mcp");
    const refused = await exchangeWith(WELL_KNOWN_BASIC, userToken);
    expect(refused.status, refused.text).toBe(401);
    expect(refused.json.error).toBe("unauthorized_client");
    const taken = await exchangeWith(await basicCredentials(), userToken);
    expect(taken.status, taken.text).toBe(200);
  });

  it("the make target's Secret applied again (the well-known value back) is put right by up --refresh", async () => {
    const generated = await basicCredentials();
    // What `kubectl apply` of upstream's sample does to the key (the make stand-in's field manager).
    const applied = await apiServer.kube.request(
      "PATCH",
      "/api/v1/namespaces/kuadrant-system/secrets/token-exchange?fieldManager=mcp-gateway-makefile&force=true",
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "token-exchange" },
        stringData: { "oauth-client-basic-auth": WELL_KNOWN_BASIC },
      },
      "application/apply-patch+yaml",
    );
    expect(applied.status, applied.text).toBe(200);
    expect(await basicCredentials()).toBe(WELL_KNOWN_BASIC);
    expect((await s.stack.up({ refresh: true })).summary.result).toBe("succeeded");
    expect(await basicCredentials()).toBe(generated);
  });

  it("the generated secret is in no state file, stack file, output, engine event or log in clear", async () => {
    const basic = await basicCredentials();
    const secret = Buffer.from(basic, "base64").toString("utf8").split(":")[1];
    const texts: Record<string, string> = {
      ...persistedTexts(s),
      "stack outputs": JSON.stringify(await s.stack.outputs()),
      "up output and engine events": upText,
    };
    expect(texts["pulumi stack export"]).toContain("ciphertext");
    // The secret, the Basic value and the Secret's data field (base64 of the Basic value).
    for (const form of [secret, basic, Buffer.from(basic).toString("base64")])
      for (const [where, text] of Object.entries(texts))
        expect(text.includes(form), `${where} holds ${form.slice(0, 4)}…`).toBe(false);
  });
});

describe("use case 2 with real tokens: the tokens", () => {
  it("the policy's exchange turns mcp's token into one for the MCP server's client, holding the group's 22 roles", async () => {
    callers.mcp = await login("mcp", "mcp");
    const exchanged = await exchangedToken(callers.mcp, SERVER);
    scoped["mcp-for-server"] = exchanged;
    const c = claimsOf(exchanged) as Record<string, any>;
    expect(c.iss).toBe(keycloak.issuer);
    expect(c.aud).toBe(SERVER);
    expect(c.azp).toBe("mcp-gateway");
    expect(c.preferred_username).toBe("mcp");
    expect([...c.resource_access[SERVER].roles].sort()).toEqual([...GUIDE_TOOLS].sort());
  });

  it("an exchange for another server's audience yields a token for that audience only", async () => {
    const other = await exchangedToken(callers.mcp!, OTHER_SERVER);
    scoped["mcp-for-other-server"] = other;
    expect(claimsOf(other).aud).toBe(OTHER_SERVER);
  });

  it("a user outside engineering gets a token, but Keycloak refuses its exchange for the MCP server", async () => {
    callers.outsider = await login(OUTSIDER.username, OUTSIDER.password);
    expect(claimsOf(callers.outsider).groups ?? []).not.toContain("engineering");
    const res = await exchangeAsThePolicyDoes(callers.outsider, SERVER);
    expect(res.status, res.text).toBe(400);
    expect(res.json.error_description).toContain(`Requested audience not available: ${SERVER}`);
  });

  it("a token past its exp (the gateway client's token lifespan cut to 1 s for one login)", async () => {
    const [client] = (await admin.get("/admin/realms/mcp/clients?clientId=mcp-gateway")).json;
    const lifespan = (value: string | undefined) =>
      admin.request("PUT", `/admin/realms/mcp/clients/${client.id}`, {
        ...client,
        attributes: { ...client.attributes, "access.token.lifespan": value },
      });
    expect((await lifespan("1")).status).toBe(204);
    try {
      callers["mcp-expired"] = await login("mcp", "mcp");
    } finally {
      expect((await lifespan(client.attributes?.["access.token.lifespan"] ?? "")).status).toBe(204);
    }
    const c = claimsOf(callers["mcp-expired"]) as { exp: number; iat: number };
    expect(c.exp - c.iat).toBe(1);
    await new Promise((r) => setTimeout(r, Math.max(0, c.exp * 1000 - Date.now()) + 1500));
  });

  it(`up with mcpServer.tools without ${REMOVED_TOOL} takes its role from the group: a new exchange lacks it`, async () => {
    await s.stack.setConfig(
      "mcpServer.tools",
      { value: GUIDE_TOOLS.filter((t) => t !== REMOVED_TOOL).join(",") },
      true,
    );
    const up = await s.stack.up();
    expect(up.summary.result).toBe("succeeded");
    expect(up.summary.resourceChanges?.delete).toBeGreaterThanOrEqual(1);
    const after = await exchangedToken(callers.mcp!, SERVER);
    scoped["mcp-for-server-after-removal"] = after;
    const roles = (claimsOf(after) as Record<string, any>).resource_access[SERVER].roles as string[];
    expect(roles).not.toContain(REMOVED_TOOL);
    expect(roles).toHaveLength(GUIDE_TOOLS.length - 1);
  });
});

describe("use case 2 with real tokens: the AuthPolicy the API server holds, evaluated as Authorino does", () => {
  it.each(CHAIN_CASES)("$title: $verdict", ({ tool, caller, scoped: scopedKind, verdict }) => {
    const callerJwt = callers[caller];
    expect(callerJwt, `token ${caller}`).toBeDefined();
    const decision = decide(applied, real, {
      callerJwt: callerJwt!,
      scopedJwt: scopedKind ? scoped[scopedKind] : undefined,
      tool,
    });
    expect(decision.verdict, decision.jwtError).toBe(verdict);
    if (verdict === "jwt") expect(decision.jwtError).toContain("token is expired");
    if (verdict === "allowed") {
      expect(decision.exchangeWanted).toBe(true); // the caller's token is not scoped: exchange it
      expect((decision.token as { claims: unknown }).claims).toEqual(claimsOf(scoped["mcp-for-server"]!));
    }
  });
});

describe("use case 2 with real tokens: the MCP server and the API server", () => {
  it("the API server authenticates the exchanged token as <issuer>#mcp", async () => {
    const review = await selfSubjectReview(apiServer, scoped["mcp-for-server"]!);
    expect(review.status, review.text).toBe(201);
    expect(review.json.status.userInfo.username).toBe(`${keycloak.issuer}#mcp`);
    expect(review.json.status.userInfo.groups).toContain("engineering");
  });

  it("namespaces_list through the stack's kubernetes-mcp-server with that token succeeds", async () => {
    const result = await callTool(mcpUrl(), "namespaces_list", scoped["mcp-for-server"]);
    expect(result.isError, result.text).toBe(false);
    expect(result.text).toContain("mcp-test");
  });

  it("the README's by-hand commands, run as written, exchange mcp's token and call namespaces_list with it", async () => {
    const run = await byHand();
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain(`"aud": "${SERVER}"`);
    expect(run.stdout).toContain('"user": "mcp"');
    // The group lost REMOVED_TOOL's role above.
    expect(run.stdout).toContain(`"roles": ${GUIDE_TOOLS.length - 1}`);
    expect(run.stdout).toMatch(/"result":\{"content":\[\{"type":"text","text":"[^"]*mcp-test/);
    expect(run.stdout).toContain('"name":"namespaces_list" "name":"nodes_log"');
  });

  it("the same commands with the outsider's token stop at the exchange and print Keycloak's refusal", async () => {
    const run = await byHand({ USER_TOKEN: callers.outsider! });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain(`Keycloak refused: invalid_request: Requested audience not available: ${SERVER}`);
    expect(run.stdout).not.toContain('"result"');
  });

  it("without a token the server still lists its tools (the broker's discovery) but cannot act: no admin fallback", async () => {
    expect(await listTools(mcpUrl())).toContain("namespaces_list");
    const result = await callTool(mcpUrl(), "namespaces_list");
    expect(result.isError).toBe(true);
    expect(result.text).not.toContain("mcp-test");
  });

  it.each([
    ["a token for another audience", () => scoped["mcp-for-other-server"]!],
    ["an expired token", () => callers["mcp-expired"]!],
    [
      "a token with a forged signature",
      () => `${scoped["mcp-for-server"]!.split(".").slice(0, 2).join(".")}.c2lnbmF0dXJl`,
    ],
  ])("%s is refused by the API server, not replaced by the server's own credentials", async (_, token) => {
    expect((await selfSubjectReview(apiServer, token())).status).toBe(401);
    const result = await callTool(mcpUrl(), "namespaces_list", token());
    expect(result.isError).toBe(true);
    expect(result.text).not.toContain("mcp-test");
  });

  it("without the ClusterRoleBinding the API server refuses the same call; up --refresh puts the binding back", async () => {
    expect((await apiServer.kube.request("DELETE", BINDING)).status).toBe(200);
    const refused = await callTool(mcpUrl(), "namespaces_list", scoped["mcp-for-server"]);
    expect(refused.isError).toBe(true);
    expect(refused.text).toContain(`User "${keycloak.issuer}#mcp" cannot list resource "namespaces"`);
    expect((await s.stack.up({ refresh: true })).summary.result).toBe("succeeded");
    const again = await callTool(mcpUrl(), "namespaces_list", scoped["mcp-for-server"]);
    expect(again.isError, again.text).toBe(false);
  });
});

describe('use case 2 with real tokens: what destroy leaves (README, "What stays")', () => {
  it("destroy keeps the generated secret in Keycloak and in the Secret: Keycloak still takes it, mcp-gateway:secret stays refused", async () => {
    const before = await basicCredentials();
    expect((await s.stack.destroy()).summary.result).toBe("succeeded");
    expect(await basicCredentials()).toBe(before);
    expect(Buffer.from(before, "base64").toString("utf8")).toBe(`mcp-gateway:${await gatewayClientSecretInKeycloak()}`);
    const userToken = await login("mcp", "mcp");
    // The stack's audience client went with destroy, so the exchange itself now fails (400); the
    // gateway client's credentials are checked first, and still pass with the generated secret.
    const taken = await exchangeWith(before, userToken);
    expect(taken.status, taken.text).not.toBe(401);
    expect(taken.json.error).not.toBe("unauthorized_client");
    expect((await exchangeWith(WELL_KNOWN_BASIC, userToken)).status).toBe(401);
    // vault-token is the make target's, untouched (Vault's dev root token: README, "What stays").
    const secret = (await apiServer.kube.get("/api/v1/namespaces/kuadrant-system/secrets/token-exchange")).json;
    expect(Buffer.from(secret.data["vault-token"], "base64").toString("utf8")).toBe("root");
  });
});
