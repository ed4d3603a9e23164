#!/usr/bin/env node
// Runs the stack's AuthPolicy rules (components/authPolicy/*.cel, token.rego) on a few cases with
// authz-eval (cel-go + OPA, as Authorino) and the same CEL with @marcbachmann/cel-js, prints what
// each returned and exits 1 on a disagreement or an unexpected result.
//
//   node testbed/authz/compare.mjs   # builds authz-eval first when $AUTHZ_EVAL is unset
//
// Each case goes the way Authorino's pipeline does: the Rego (authorization "token", allValues)
// runs on the authorization JSON, and its bindings become auth.authorization.token for the CEL.

import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const { evaluate } = createRequire(join(ROOT, "package.json"))("@marcbachmann/cel-js");
const rule = (f) => readFileSync(join(ROOT, "components/authPolicy", f), "utf8").trim();
const CEL = {
  "exchange-when": rule("exchange-when.cel"),
  "scoped-audience": rule("scoped-audience.cel"),
  "tool-access": rule("tool-access.cel"),
};
const REGO = rule("token.rego");

let bin = process.env.AUTHZ_EVAL;
if (!bin) {
  const b = spawnSync("bash", [join(ROOT, "testbed/authz/build.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  if (b.status !== 0) process.exit(1);
  bin = b.stdout.match(/^export AUTHZ_EVAL=(.*)$/m)[1];
}
const authzEval = (doc) => {
  const r = spawnSync(bin, { input: JSON.stringify(doc), encoding: "utf8" });
  if (r.status !== 0) throw new Error(`authz-eval: ${r.stderr}`);
  return JSON.parse(r.stdout);
};

const SERVER = "mcp-test/kubernetes-mcp";
const b64url = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
/** An unsigned-looking JWT built by hand: io.jwt.decode does not verify it. */
const jwt = (claims) =>
  `${b64url({ alg: "RS256", typ: "JWT", kid: "test" })}.${b64url(claims)}.${Buffer.from("sig").toString("base64url")}`;
const caller = {
  iss: "https://kc/realms/mcp",
  sub: "u-1",
  aud: ["mcp-gateway", "account"],
  azp: "mcp-gateway",
  exp: 1893456000,
};
const scoped = (aud, resource_access) => ({ ...caller, aud, azp: "mcp-gateway", resource_access });
const roles = (client, ...r) => ({ [client]: { roles: r } });

const cases = [
  {
    name: "role present",
    tool: "pods_list",
    token: scoped(SERVER, roles(SERVER, "pods_list", "namespaces_list")),
    want: { "scoped-audience": true, "tool-access": true },
  },
  {
    name: "role missing",
    tool: "pods_delete",
    token: scoped(SERVER, roles(SERVER, "pods_list")),
    want: { "scoped-audience": true, "tool-access": false },
  },
  {
    name: "aud mcp-test/other",
    tool: "pods_list",
    token: scoped("mcp-test/other", roles(SERVER, "pods_list")),
    want: { "scoped-audience": false, "tool-access": true },
  },
  {
    name: "aud a list",
    tool: "pods_list",
    token: scoped([SERVER, "account"], roles(SERVER, "pods_list")),
    want: { "scoped-audience": false },
  },
  { name: "no resource_access", tool: "pods_list", token: scoped(SERVER, undefined), want: { "tool-access": false } },
  {
    name: "role on another client",
    tool: "pods_list",
    token: scoped(SERVER, roles("mcp-test/other", "pods_list")),
    want: { "tool-access": false },
  },
  // No exchange happened (the caller's token already had this audience): token.rego falls back to
  // the bearer token of the Authorization header.
  {
    name: "no exchange: bearer",
    tool: "pods_list",
    token: null,
    identity: scoped(SERVER, roles(SERVER, "pods_list")),
    want: { "exchange-when": false, "scoped-audience": true, "tool-access": true },
  },
];

let bad = 0;
for (const c of cases) {
  const identity = c.identity ?? caller;
  const headers = { "x-mcp-servername": SERVER, "x-mcp-toolname": c.tool, authorization: `Bearer ${jwt(identity)}` };
  const metadata = c.token ? { "oauth-token-exchange": { access_token: jwt(c.token), token_type: "Bearer" } } : {};
  const input = { auth: { identity, metadata }, request: { headers } };
  const rego = authzEval({ rego: REGO, regoVersion: "v0", input }).rego;
  const expectClaims = c.token ?? identity;
  const regoOk = rego.allow === true && isDeepStrictEqual(rego.claims, JSON.parse(JSON.stringify(expectClaims)));
  // auth.authorization.token: the Rego bindings, as Authorino stores an authorization's result.
  const ctx = { ...input, auth: { ...input.auth, authorization: { token: rego } } };
  const go = authzEval({ cel: CEL, input: ctx }).cel;
  const js = Object.fromEntries(
    Object.entries(CEL).map(([k, e]) => {
      try {
        return [k, evaluate(e, ctx)];
      } catch (err) {
        return [k, { error: String(err.message ?? err) }];
      }
    }),
  );
  const agree = isDeepStrictEqual(go, js);
  const wantOk = Object.entries(c.want).every(([k, v]) => go[k] === v);
  if (!agree || !wantOk || !regoOk) bad++;
  const show = (o) =>
    Object.entries(o)
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(" ");
  console.log(`${agree && wantOk && regoOk ? "ok  " : "FAIL"} ${c.name} (tool ${c.tool})`);
  console.log(
    `     rego: allow=${rego.allow} claims==${c.token ? "exchanged" : "bearer"} JWT payload: ${regoOk}${rego.error ? ` error: ${rego.error}` : ""}`,
  );
  console.log(`     cel-go: ${show(go)}`);
  console.log(`     cel-js: ${show(js)}${agree ? "  (same)" : "  (DIFFERENT)"}`);
}
console.log(`${cases.length - bad} passed, ${bad} failed`);
process.exit(bad ? 1 : 0);
