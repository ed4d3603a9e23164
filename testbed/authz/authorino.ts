/**
 * The offline test bed the real-engine tests run against (testbed/): the MCP Gateway repository,
 * Keycloak from Maven Central with the realm of a pinned gateway tag, and a loopback kube-apiserver
 * started with the OIDC flags of that tag's Kind config, pointed at that Keycloak.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as https from "node:https";
import * as path from "node:path";
import type { ConfigMap, Stack } from "@pulumi/pulumi/automation";
import type { AuthPolicyMetadata } from "../../components/crds";
import { claimsOf, type Evaluators } from "../../test/support/authChain";
import { REPO_ROOT, scratchTmp } from "../engine/engine";

/** The tags of testbed/gateway/checkout.sh's repository (the bundle's, or upstream's commits). */
export type GatewayTag = "guide-397bf8d" | "guide-fd2e9da" | "kuadrant-v0.9.0";

const run = (script: string, args: string[] = [], env: Record<string, string> = {}) =>
  execFileSync("bash", [path.join(REPO_ROOT, script), ...args], {
    cwd: REPO_ROOT,
    encoding: "utf8",
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });

/** `export NAME=value` lines (printf %q quoted) -> object. */
function exportsOf(out: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const m of out.matchAll(/^export (\w+)=(.*)$/gm)) {
    vars[m[1]] = execFileSync("bash", ["-c", `printf %s ${m[2]}`], { encoding: "utf8" });
  }
  return vars;
}

let repo: string | undefined;
/** Path of the gateway repository with the guide's tags (cloned once into the cache). */
export function gatewayRepo(): string {
  repo ??= run("testbed/gateway/checkout.sh").trim();
  return repo;
}

/** A file of the gateway repository at a tag, written to a temp file; its path. */
export function gatewayFile(tag: GatewayTag, file: string): string {
  const out = path.join(scratchTmp("mcp-gw-file-"), path.basename(file));
  fs.writeFileSync(out, execFileSync("git", ["-C", gatewayRepo(), "show", `${tag}:${file}`]));
  return out;
}

/** A small JSON client of an HTTPS API (the API server, Keycloak) trusting one CA. */
export class Api {
  constructor(
    readonly base: string,
    private readonly ca: Buffer,
    /** The Authorization header's value, if any. */
    private authorization?: string,
  ) {}

  withToken(token: string): Api {
    return new Api(this.base, this.ca, `Bearer ${token}`);
  }

  /** The same API with another Authorization header (`Basic ...` for an OAuth client). */
  withAuthorization(value: string): Api {
    return new Api(this.base, this.ca, value);
  }

  request(
    method: string,
    apiPath: string,
    body?: unknown,
    contentType = "application/json",
  ): Promise<{ status: number; json: any; text: string }> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
      const req = https.request(
        new URL(apiPath, this.base),
        {
          method,
          ca: this.ca,
          headers: {
            ...(this.authorization ? { authorization: this.authorization } : {}),
            "content-type": contentType,
          },
        },
        (res) => {
          let text = "";
          res.on("data", (c) => (text += c));
          res.on("end", () => {
            let json: any = {};
            try {
              json = text ? JSON.parse(text) : {};
            } catch {
              json = {};
            }
            resolve({ status: res.statusCode ?? 0, json, text });
          });
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  }

  get(apiPath: string) {
    return this.request("GET", apiPath);
  }

  /** A form POST (OAuth token endpoints). */
  form(apiPath: string, fields: Record<string, string>) {
    return this.request("POST", apiPath, new URLSearchParams(fields).toString(), "application/x-www-form-urlencoded");
  }
}

/**
 * Closes the idle keep-alive sockets of https.globalAgent (Api's) to `url`'s server after a restart:
 * the old process closed them, but a synchronous restart gives the event loop no turn to notice, so
 * the next request would go out on a dead one ("socket hang up").
 */
function dropIdleSockets(url: string): void {
  const host = new URL(url).host; // the agent names sockets "host:port:..."
  for (const [name, sockets] of Object.entries(https.globalAgent.freeSockets))
    if (name.startsWith(`${host}:`)) for (const s of sockets ?? []) s.destroy();
}

export interface Keycloak {
  dir: string;
  url: string;
  ca: string;
  issuer: string;
  adminUser: string;
  adminPassword: string;
  /** Keycloak without a token (OAuth endpoints). */
  api: Api;
  /** The admin REST API, logged in as the bootstrap admin. */
  admin(): Promise<Api>;
  /**
   * Stops Keycloak and starts it again in place (testbed/keycloak/restart.sh): same URL, TLS, admin
   * and database, so realms and what the admin API created since survive; returns when it answers.
   */
  restart(): void;
  stop(): void;
}

/**
 * Keycloak (testbed/keycloak) on loopback, HTTPS, with the realm import of the gateway at `tag`.
 * `version`: MCP_KEYCLOAK_VERSION for fetch.sh and start.sh (default: theirs, 26.5.6); a version
 * not in the cache yet is downloaded and built on its first use (~1 min).
 */
export async function startKeycloak(tag: GatewayTag, version?: string): Promise<Keycloak> {
  const env: Record<string, string> = version ? { MCP_KEYCLOAK_VERSION: version } : {};
  run("testbed/keycloak/fetch.sh", [], env);
  const realm = gatewayFile(tag, "config/keycloak/realm-import.yaml");
  const v = exportsOf(run("testbed/keycloak/start.sh", [realm], env));
  const api = new Api(v.KEYCLOAK_URL, fs.readFileSync(v.KEYCLOAK_CA));
  return {
    dir: v.KEYCLOAK_DIR,
    url: v.KEYCLOAK_URL,
    ca: v.KEYCLOAK_CA,
    issuer: v.KEYCLOAK_ISSUER,
    adminUser: v.KEYCLOAK_ADMIN_USER,
    adminPassword: v.KEYCLOAK_ADMIN_PASSWORD,
    api,
    async admin() {
      const res = await api.form("/realms/master/protocol/openid-connect/token", {
        grant_type: "password",
        client_id: "admin-cli",
        username: v.KEYCLOAK_ADMIN_USER,
        password: v.KEYCLOAK_ADMIN_PASSWORD,
      });
      if (res.status !== 200) throw new Error(`Keycloak admin login: ${res.status} ${res.text}`);
      return api.withToken(res.json.access_token);
    },
    restart: () => {
      run("testbed/keycloak/restart.sh", [v.KEYCLOAK_DIR]);
      dropIdleSockets(v.KEYCLOAK_URL);
    },
    stop: () => void run("testbed/keycloak/stop.sh", [v.KEYCLOAK_DIR]),
  };
}

/**
 * Test bed only: direct access grants on for the realm's gateway client (off in the realm, whose
 * users log in through a browser), and a password login at that client with its own secret: the
 * user's token as the browser login would give it.
 */
export async function passwordLogin(
  keycloak: Keycloak,
  realm = "mcp",
  clientId = "mcp-gateway",
): Promise<(username: string, password: string) => Promise<string>> {
  const admin = await keycloak.admin();
  const realmPath = `/admin/realms/${realm}`;
  const [client] = (await admin.get(`${realmPath}/clients?clientId=${encodeURIComponent(clientId)}`)).json;
  const put = await admin.request("PUT", `${realmPath}/clients/${client.id}`, {
    ...client,
    directAccessGrantsEnabled: true,
  });
  if (put.status !== 204) throw new Error(`direct access grants for ${clientId}: HTTP ${put.status} ${put.text}`);
  const secret = (await admin.get(`${realmPath}/clients/${client.id}/client-secret`)).json.value as string;
  return async (username, password) => {
    const res = await keycloak.api.form(`/realms/${realm}/protocol/openid-connect/token`, {
      grant_type: "password",
      client_id: clientId,
      client_secret: secret,
      username,
      password,
      scope: "openid profile groups",
    });
    if (res.status !== 200) throw new Error(`password grant for ${username}: HTTP ${res.status} ${res.text}`);
    return res.json.access_token;
  };
}

/** Prints the claims of a token a closing note shows (`<prefix>: <label>: {...}`); its claims. */
export function printClaims(prefix: string, label: string, token: string): Record<string, any> {
  const c = claimsOf(token) as Record<string, any>;
  const brief = {
    iss: c.iss,
    aud: c.aud,
    azp: c.azp,
    sub: c.sub,
    preferred_username: c.preferred_username,
    groups: c.groups,
    scope: c.scope,
    "exp-iat": c.exp - c.iat,
    resource_access: Object.fromEntries(
      Object.entries(c.resource_access ?? {}).map(([k, v]: [string, any]) => [k, `${v.roles.length} roles`]),
    ),
  };
  console.log(`${prefix}: ${label}: ${JSON.stringify(brief)}`);
  return c;
}

/**
 * A user of the realm at `realmPath` (`/admin/realms/<name>`) with a password and, by path
 * (`/engineering`), groups: the test's own users beside the realm import's.
 */
export async function createUser(
  admin: Api,
  realmPath: string,
  user: { username: string; password: string; groups?: string[] },
): Promise<void> {
  const res = await admin.request("POST", `${realmPath}/users`, {
    username: user.username,
    enabled: true,
    email: `${user.username}@example.com`,
    emailVerified: true,
    firstName: user.username,
    lastName: "Test",
    groups: user.groups ?? [],
    credentials: [{ type: "password", value: user.password, temporary: false }],
  });
  if (res.status !== 201) throw new Error(`create user ${user.username}: HTTP ${res.status} ${res.text}`);
}

/** A realm of `keycloak` created over the admin REST API. */
export interface Realm {
  name: string;
  /** `<keycloak url>/realms/<name>`. */
  issuer: string;
  /** `/realms/<name>/protocol/openid-connect/token`, relative to `keycloak.api`. */
  tokenPath: string;
  /** `/admin/realms/<name>`, relative to the admin API. */
  adminPath: string;
}

/**
 * An empty, enabled realm named `name` (Keycloak's defaults: the client scopes basic, profile,
 * email, roles, web-origins, acr as defaults, no groups scope), created with the admin REST API:
 * the test's stand-in for "the cluster's domain exists" before the stack configures it.
 */
export async function createRealm(keycloak: Keycloak, name: string): Promise<Realm> {
  const admin = await keycloak.admin();
  const res = await admin.request("POST", "/admin/realms", { realm: name, enabled: true });
  if (res.status !== 201) throw new Error(`create realm ${name}: expected HTTP 201, got ${res.status} ${res.text}`);
  const issuer = `${keycloak.url}/realms/${name}`;
  const discovery = await keycloak.api.get(`/realms/${name}/.well-known/openid-configuration`);
  if (discovery.json.issuer !== issuer)
    throw new Error(`realm ${name}: discovery names issuer ${discovery.json.issuer}, expected ${issuer}`);
  return {
    name,
    issuer,
    tokenPath: `/realms/${name}/protocol/openid-connect/token`,
    adminPath: `/admin/realms/${encodeURIComponent(name)}`,
  };
}

export interface ApiServer {
  dir: string;
  url: string;
  /** OIDC mode: the issuer it trusts and the client id (audience) it wants. */
  oidcIssuer?: string;
  oidcClientId?: string;
  /** Path of an admin kubeconfig (static token, system:masters). */
  kubeconfig: string;
  token: string;
  /** Path of the CA that signed the API server's certificate (a CA Keycloak's does not verify with). */
  ca: string;
  /** The admin client of the API server. */
  kube: Api;
  /**
   * Stops kube-apiserver and starts it again in place (testbed/apiserver/restart.sh): same URL,
   * certs and token; etcd keeps running, so every object survives. Returns when /readyz answers.
   */
  restart(): void;
  stop(): void;
}

/** The OIDC flags of an API server: the Kind config's at `tag`, trusting `keycloak`'s CA. */
export interface ApiServerOidc {
  keycloak: Keycloak;
  tag: GatewayTag;
  /** The realm it trusts (default the gateway's realm, `keycloak.issuer`): another cluster's domain. */
  issuer?: string;
  /** `--oidc-client-id`, the audience its tokens need (default the Kind config's, mcp-test/kubernetes-mcp). */
  clientId?: string;
}

/**
 * kube-apiserver + etcd (+ garbage collector and namespace controllers) on loopback, with what the
 * gateway's setup leaves (CRDs, namespaces, the Gateway with two listeners of its own). With
 * `oidc`: the OIDC flags of the Kind config at `oidc.tag`, issuer and CA of the given Keycloak (the
 * issuer and client id replaceable: a second cluster trusting its own realm). Each API server has its
 * own dir and is stopped by it, so several run at once.
 */
export function startApiServer(
  oidc?: ApiServerOidc,
  /** The gateway tag whose config/crd/*.yaml to install (testbed/apiserver/crds.mjs; default guide-fd2e9da). */
  gatewayCrds?: GatewayTag,
): ApiServer {
  const env: Record<string, string> = oidc
    ? {
        MCP_APISERVER_OIDC_ISSUER: oidc.issuer ?? oidc.keycloak.issuer,
        MCP_APISERVER_OIDC_CA: oidc.keycloak.ca,
        MCP_APISERVER_KIND_CONFIG: gatewayFile(oidc.tag, "config/kind/cluster.yaml"),
        ...(oidc.clientId ? { MCP_APISERVER_OIDC_CLIENT_ID: oidc.clientId } : {}),
      }
    : {};
  const v = exportsOf(run("testbed/apiserver/start.sh", [], env));
  try {
    // Kuadrant's controller writes HTTPRoute rule names: Gateway API v1.6.1, as its go.mod.
    const crdEnv: Record<string, string> = gatewayCrds ? { MCP_GATEWAY_CRD_REF: gatewayCrds } : {};
    if (gatewayCrds === "kuadrant-v0.9.0") crdEnv.MCP_GATEWAY_API_VERSION = "v1.6.1";
    run("testbed/apiserver/crds.sh", [v.APISERVER_DIR], crdEnv);
  } catch (err) {
    run("testbed/apiserver/stop.sh", [v.APISERVER_DIR]);
    throw err;
  }
  return apiServerAt(v.APISERVER_DIR);
}

/** An API server whose env file (testbed/apiserver/start.sh) is in `dir`. */
function apiServerAt(dir: string): ApiServer {
  const v = Object.fromEntries(
    fs
      .readFileSync(path.join(dir, "env"), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
  return {
    dir,
    url: v.APISERVER_URL,
    oidcIssuer: v.APISERVER_OIDC_ISSUER,
    oidcClientId: v.APISERVER_OIDC_CLIENT_ID,
    kubeconfig: v.KUBECONFIG,
    token: v.APISERVER_TOKEN,
    ca: v.APISERVER_CA,
    kube: new Api(v.APISERVER_URL, fs.readFileSync(v.APISERVER_CA), `Bearer ${v.APISERVER_TOKEN}`),
    restart: () => {
      run("testbed/apiserver/restart.sh", [dir]);
      dropIdleSockets(v.APISERVER_URL);
    },
    stop: () => void run("testbed/apiserver/stop.sh", [dir]),
  };
}

/**
 * The stand-ins for `make`, Kind's `kind` and `docker` (testbed/standins), with their own call log.
 * Each "Kind cluster" the make stand-in creates is a loopback API server of its own.
 */
export function standIns(): {
  env: Record<string, string>;
  calls(): string[];
  cluster(name: string): ApiServer | undefined;
  stopClusters(): void;
} {
  const dir = scratchTmp("mcp-standins-");
  const clusters = path.join(dir, "clusters");
  const cluster = (name: string) => {
    const marker = path.join(clusters, name);
    return fs.existsSync(marker) ? apiServerAt(fs.readFileSync(marker, "utf8").trim()) : undefined;
  };
  return {
    env: { PATH: `${path.join(REPO_ROOT, "testbed/standins")}:${process.env.PATH}`, MCP_STANDIN_DIR: dir },
    calls: () => {
      const log = path.join(dir, "calls.log");
      return fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n").filter(Boolean) : [];
    },
    cluster,
    stopClusters: () => {
      for (const name of fs.existsSync(clusters) ? fs.readdirSync(clusters) : []) cluster(name)?.stop();
    },
  };
}

/** What testbed/authz's evaluator answers: each CEL expression's value, the Rego rules' values, the JWT's claims. */
export interface AuthzResult {
  cel: Record<string, unknown>;
  rego: Record<string, unknown> | null;
  jwt: { claims: Record<string, unknown> } | { error: string } | null;
}

let authzEval: string | undefined;
/**
 * Authorino's CEL (cel-go) and Rego (OPA) on one authorization input, and optionally its JWT
 * authentication (go-oidc: discovery at the issuer URL, signature, expiry) trusting `jwt.ca`.
 */
export function authorino(
  cel: Record<string, string>,
  rego: string | null,
  input: Record<string, unknown>,
  jwt?: { issuerUrl: string; token: string; ca: string },
): AuthzResult {
  authzEval ??= exportsOf(run("testbed/authz/build.sh")).AUTHZ_EVAL;
  const out = execFileSync(authzEval, [], {
    input: JSON.stringify({
      cel,
      rego,
      regoVersion: "v0",
      input,
      jwt: jwt ? { issuerUrl: jwt.issuerUrl, token: jwt.token } : undefined,
    }),
    encoding: "utf8",
    env: { ...process.env, ...(jwt ? { SSL_CERT_FILE: jwt.ca } : {}) },
  });
  return JSON.parse(out) as AuthzResult;
}

/**
 * Authorino's evaluators for the shared decision of test/support/authChain.ts: go-oidc against the
 * issuer the applied policy names (trusting `ca`), OPA and cel-go. `onCel` sees each CEL result
 * (the auth-chain test checks cel-js against it there).
 */
export function authorinoEvaluators(a: {
  issuerUrl: () => string;
  ca: () => string;
  onCel?: (exprs: Record<string, string>, input: Record<string, unknown>, values: Record<string, unknown>) => void;
}): Evaluators {
  return {
    verifyJwt: (token) =>
      authorino({}, null, {}, { issuerUrl: a.issuerUrl(), token, ca: a.ca() }).jwt as
        { claims: Record<string, unknown> } | { error: string },
    cel: (exprs, input) => {
      const values = authorino(exprs, null, input).cel;
      a.onCel?.(exprs, input, values);
      return values;
    },
    rego: (rego, input) => authorino({}, rego, input).rego ?? {},
  };
}

/**
 * The gateway client's credentials as Authorino sends them after "Basic ": the value of the Secret
 * the token-exchange make target writes (base64 of `id:secret`).
 */
export async function tokenExchangeBasic(
  apiServer: ApiServer,
  ref: { name: string; key: string } = { name: "token-exchange", key: "oauth-client-basic-auth" },
): Promise<string> {
  const secret = (await apiServer.kube.get(`/api/v1/namespaces/kuadrant-system/secrets/${ref.name}`)).json;
  return Buffer.from(secret.data[ref.key], "base64").toString("utf8");
}

/** One `rules.metadata` entry of an AuthPolicy (its CRD's type); runMetadata runs the HTTP kind. */
export type MetadataStep = AuthPolicyMetadata;

/** What one metadata step did. */
export interface StepOutcome {
  name: string;
  priority: number;
  /** A `when` predicate was false (or failed): nothing sent, no `auth.metadata` entry. */
  skipped: boolean;
  /** A body parameter's CEL expression failed (e.g. the previous step left no token): nothing sent. */
  error?: string;
  /** The request sent (form fields as sent, Authorization header value) and the answer. */
  request?: { url: string; authorization?: string; body: Record<string, string> };
  status?: number;
  /** The parsed JSON answer (whatever the status: Authorino keeps a 400's JSON too). */
  json?: any;
}

/** Sends (again) the request a metadata step sent, trusting `ca`; the answer as it came. */
export function resend(request: NonNullable<StepOutcome["request"]>, ca: string) {
  const url = new URL(request.url);
  const api = new Api(url.origin, fs.readFileSync(ca), request.authorization);
  return api.form(url.pathname + url.search, request.body);
}

/**
 * Runs an AuthPolicy's `rules.metadata` as Authorino does (pkg/evaluators/metadata/generic_http.go):
 * in priority order (lowest first; equal priorities run together), a step only when all its `when`
 * predicates are true; each body parameter is its `value` or its CEL `expression` (cel-go, testbed/authz)
 * over `request.headers`, `auth.identity` (the caller's claims) and `auth.metadata.<earlier step>`
 * (that step's parsed JSON answer, kept whatever the HTTP status); a failing expression fails the
 * step, which then sends nothing and leaves no entry. POST, form-encoded, `Authorization: <prefix>
 * <value>` where the value is the `sharedSecretRef` Secret's key as `secrets` reads it (default:
 * `apiServer`'s Secret in kuadrant-system), to the real server trusting `ca`.
 */
export async function runMetadata(
  metadata: Record<string, MetadataStep>,
  ctx: {
    headers: Record<string, string>;
    identity?: Record<string, unknown>;
    /** The CA of the servers the steps call (Keycloak's). */
    ca: string;
    /** The API server whose kuadrant-system Secrets hold the credentials. */
    apiServer: ApiServer;
  },
): Promise<{ steps: StepOutcome[]; byName: Record<string, StepOutcome>; metadata: Record<string, unknown> }> {
  const auth: { identity: Record<string, unknown>; metadata: Record<string, unknown> } = {
    identity: ctx.identity ?? {},
    metadata: {},
  };
  const request = { headers: Object.fromEntries(Object.entries(ctx.headers).map(([k, v]) => [k.toLowerCase(), v])) };
  const steps: StepOutcome[] = [];
  const priorities = [...new Set(Object.values(metadata).map((m) => m.priority ?? 0))].sort((a, b) => a - b);
  for (const priority of priorities) {
    const group = Object.entries(metadata).filter(([, m]) => (m.priority ?? 0) === priority);
    // Same priority: concurrent in Authorino, so each sees only the earlier priorities' answers.
    const input = { request, auth: JSON.parse(JSON.stringify(auth)) };
    const done = await Promise.all(group.map(([name, m]) => runStep(name, priority, m, input, ctx)));
    for (const o of done) {
      steps.push(o);
      if (o.request && o.json !== undefined) auth.metadata[o.name] = o.json;
    }
  }
  return { steps, byName: Object.fromEntries(steps.map((o) => [o.name, o])), metadata: auth.metadata };
}

async function runStep(
  name: string,
  priority: number,
  m: MetadataStep,
  input: Record<string, unknown>,
  ctx: { ca: string; apiServer: ApiServer },
): Promise<StepOutcome> {
  const outcome: StepOutcome = { name, priority, skipped: false };
  const http = m.http;
  if (!http?.url) throw new Error(`${name}: only HTTP steps with a fixed url are run here`);
  if ((m.when ?? []).some((w) => w.predicate === undefined))
    throw new Error(`${name}: only CEL \`predicate\` conditions are run here`);
  const when = Object.fromEntries((m.when ?? []).map((w, i) => [`when${i}`, w.predicate!]));
  if (Object.keys(when).length) {
    const values = authorino(when, null, input).cel;
    if (!Object.values(values).every((v) => v === true)) return { ...outcome, skipped: true };
  }
  const params = Object.entries(http.bodyParameters ?? {});
  const exprs = Object.fromEntries(params.flatMap(([k, p]) => (p.expression ? [[k, p.expression]] : [])));
  const values = Object.keys(exprs).length ? authorino(exprs, null, input).cel : {};
  const failed = Object.entries(values).find(([, v]) => v !== null && typeof v === "object" && "error" in v);
  if (failed) return { ...outcome, error: `${failed[0]}: ${(failed[1] as { error: string }).error}` };
  // As json.StringifyJSON: strings as they are, anything else as JSON.
  const str = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));
  const body = Object.fromEntries(params.map(([k, p]) => [k, str(p.expression ? values[k] : p.value)]));
  if ((http.method ?? "GET") !== "POST") throw new Error(`${name}: only POST steps are run here`);
  if ((http.contentType ?? "application/x-www-form-urlencoded") !== "application/x-www-form-urlencoded")
    throw new Error(`${name}: only form-encoded steps are run here`);
  const prefix = http.credentials?.authorizationHeader?.prefix;
  const authorization =
    http.sharedSecretRef && prefix !== undefined
      ? `${prefix} ${await tokenExchangeBasic(ctx.apiServer, http.sharedSecretRef)}`
      : undefined;
  outcome.request = { url: http.url, authorization, body };
  const res = await resend(outcome.request, ctx.ca);
  return { ...outcome, status: res.status, json: res.text ? res.json : undefined };
}

/** The API server's SelfSubjectReview for a bearer token: who it takes the caller for. */
export function selfSubjectReview(apiServer: ApiServer, token: string) {
  return apiServer.kube.withToken(token).request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", {
    apiVersion: "authentication.k8s.io/v1",
    kind: "SelfSubjectReview",
  });
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export function portAnswers(port: number): boolean {
  const probe = `require("net").connect(${port}, "127.0.0.1").on("connect", () => process.exit(0)).on("error", () => process.exit(1))`;
  try {
    execFileSync("node", ["-e", probe], { stdio: "ignore", timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

/** Command lines of running processes that contain every one of `parts`. */
export function processesWith(...parts: string[]): string[] {
  return execFileSync("ps", ["-eo", "stat=,args="], { encoding: "utf8" })
    .split("\n")
    .filter((l) => !l.trim().startsWith("Z") && parts.every((p) => l.includes(p)));
}

/**
 * Stops every kubernetes-mcp-server a scratch stack started (its kubeconfig lives in `dir`): the
 * last step of a test file, so a failed destroy leaves no server behind.
 */
function stopLeftoverServers(dir: string): void {
  const pids = execFileSync("ps", ["-eo", "pid=,stat=,args="], { encoding: "utf8" })
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter(
      ([, stat, ...args]) =>
        stat &&
        !stat.startsWith("Z") &&
        args.join(" ").includes("kubernetes-mcp-server") &&
        args.join(" ").includes(dir),
    )
    .map(([pid]) => Number(pid));
  for (const pid of pids) process.kill(pid, "SIGKILL");
}

/**
 * The last step of a test file that ran a stack: destroy it (errors ignored: the test already
 * failed), then stop any server a failed destroy left behind.
 */
export async function tearDownStack(s: { stack: Stack; dir: string } | undefined): Promise<void> {
  if (!s) return;
  await s.stack.destroy().catch(() => undefined);
  stopLeftoverServers(s.dir);
}

/**
 * A free loopback TCP port below the kernel's ephemeral range (32768 and up), so no port that the
 * test bed's servers pick at random later (etcd, kube-apiserver, Keycloak) can take it first.
 */
export function freePort(): number {
  const pick = `
    const net = require("net");
    const tryPort = () => {
      const port = 20000 + Math.floor(Math.random() * 12000);
      const s = net.createServer().once("error", tryPort).listen(port, "127.0.0.1", () => {
        console.log(port);
        s.close();
      });
    };
    tryPort();`;
  return Number(execFileSync("node", ["-e", pick], { encoding: "utf8" }).trim());
}

/**
 * Points a stack at the test bed: an existing cluster (the loopback API server), the gateway
 * repository at `tag` (for the token-exchange setup), a kubernetes-mcp-server the stack starts
 * on loopback at `port`, and for `oidc` the test bed's Keycloak, verified with its CA.
 */
export async function useTestBed(
  stack: Stack,
  bed: {
    apiServer: ApiServer;
    tag: GatewayTag;
    port: number;
    keycloak?: Keycloak;
    useCase?: "no-auth" | "oidc" | "cross-domain";
  },
): Promise<void> {
  const config: ConfigMap = {
    useCase: { value: bed.useCase ?? "no-auth" },
    "cluster.mode": { value: "existing" },
    "cluster.kubeconfig": { value: fs.readFileSync(bed.apiServer.kubeconfig, "utf8"), secret: true },
    "cluster.repoUrl": { value: gatewayRepo() },
    "cluster.ref": { value: bed.tag },
    "mcpServer.port": { value: String(bed.port) },
    "mcpServer.bindAddress": { value: "127.0.0.1" },
  };
  if (bed.keycloak) {
    Object.assign(config, {
      "keycloak.url": { value: bed.keycloak.url },
      "keycloak.adminUser": { value: bed.keycloak.adminUser },
      "keycloak.adminPassword": { value: bed.keycloak.adminPassword, secret: true },
      "keycloak.rootCaCertificate": { value: fs.readFileSync(bed.keycloak.ca, "utf8") },
      "keycloak.tlsInsecureSkipVerify": { value: "false" },
      // The loopback API server has no aggregated ClusterRoles (view is empty): bind cluster-admin.
      "oidc.clusterRole": { value: "cluster-admin" },
      "oidc.allowClusterAdmin": { value: "true" },
    });
  }
  await stack.setAllConfig(config, true);
}

/**
 * User mcp's token exchanged for `audience` as the AuthPolicy's exchange asks for it (its scope,
 * the token-exchange Secret's credentials): the token the gateway hands the MCP server.
 */
export async function exchangedUserToken(
  keycloak: Keycloak,
  apiServer: ApiServer,
  login: (username: string, password: string) => Promise<string>,
  audience = "mcp-test/kubernetes-mcp",
): Promise<string> {
  const basic = await tokenExchangeBasic(apiServer);
  const res = await keycloak.api.withAuthorization(`Basic ${basic}`).form("/realms/mcp/protocol/openid-connect/token", {
    grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
    subject_token: await login("mcp", "mcp"),
    subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
    audience,
    // The API server's username claim is preferred_username.
    scope: "openid profile groups",
  });
  if (res.status !== 200) throw new Error(`token exchange for ${audience}: HTTP ${res.status} ${res.text}`);
  return res.json.access_token;
}

/** Waits (up to 60 s) until `apiServer` authenticates `token`: it fetches Keycloak's keys in the background after it starts. */
export async function untilAccepted(apiServer: ApiServer, token: string): Promise<void> {
  for (let i = 0; i < 60 && (await selfSubjectReview(apiServer, token)).status === 401; i++)
    await new Promise((r) => setTimeout(r, 1000));
}
