/** Authorino's own evaluators (testbed/authz: cel-go, OPA, go-oidc) on one authorization input. */
import { execFileSync } from "node:child_process";
import { exportsOf, runScript } from "../processes";

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
  authzEval ??= exportsOf(runScript("testbed/authz/build.sh")).AUTHZ_EVAL;
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

/** Authorino's evaluators: real ones (authorinoEvaluators) or the unit tests' (cel-js, synthetic JWTs). */
export interface Evaluators {
  /** The `jwt` authentication: the caller's verified claims, or why the token is refused. */
  verifyJwt(token: string): { claims: Record<string, unknown> } | { error: string };
  cel(exprs: Record<string, string>, input: Record<string, unknown>): Record<string, unknown>;
  /** The inline Rego's rules (`allValues: true`): here `token` is read from `claims` and `jwt`. */
  rego(rego: string, input: Record<string, unknown>): Record<string, unknown>;
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
