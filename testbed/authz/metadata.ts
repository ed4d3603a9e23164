/** An AuthPolicy's metadata steps (token exchanges, grants) sent to the real Keycloak as Authorino sends them. */
import * as fs from "node:fs";
import type { AuthPolicyMetadata } from "../../components/crds";
import type { ApiServer } from "../apiserver/apiServer";
import { Api } from "../https";
import type { Keycloak } from "../keycloak/keycloak";
import { authorino } from "./authorino";

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
