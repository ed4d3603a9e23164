import * as k8s from "@pulumi/kubernetes";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { childOptions } from "./childOptions";
import type * as crds from "./crds";

export interface ToolAuthPolicyArgs {
  /** Name of the AuthPolicy object. */
  policyName: string;
  /** The HTTPRoute the policy protects. */
  routeName: pulumi.Input<string>;
  namespace: pulumi.Input<string>;
  /** Keycloak realm URL: the JWT issuer. */
  issuerUrl: string;
  /** Secret (in Authorino's namespace) with the gateway client's Basic credentials. */
  tokenExchangeSecret: string;
  /** Where an unauthenticated client finds the protected-resource metadata. */
  resourceMetadataUrl: string;
  /** Prefix of the tool roles in the realm (`tool:` for Kuadrant's): the tool check adds it. */
  rolePrefix?: string;
  /**
   * Metadata steps that end in the scoped token `oauth-token-exchange` (use case 3's chain,
   * components/domainChain.ts); default: use case 2's one exchange in the issuer's realm.
   */
  metadata?: Record<string, crds.AuthPolicyMetadata>;
}

const TOOL_HEADER = "request.headers['x-mcp-toolname']";

/** The tool check for roles named `<rolePrefix><tool>`: the guide's predicate, or the v0.9.0 sample's. */
function toolAccessPredicate(rolePrefix = ""): string {
  if (!rolePrefix) return authRules.toolAccess;
  if (!authRules.toolAccess.startsWith(`${TOOL_HEADER} in `))
    throw new Error(`tool-access.cel must start with "${TOOL_HEADER} in " to take a role prefix`);
  return `(${JSON.stringify(rolePrefix).replace(/"/g, "'")} + ${TOOL_HEADER})${authRules.toolAccess.slice(TOOL_HEADER.length)}`;
}

const RULES_DIR = path.join(__dirname, "authPolicy");

/** The Rego and CEL kept as data beside this file, read once. */
export const authRules = {
  rego: readRule("token.rego"),
  exchangeWhen: readRule("exchange-when.cel"),
  scopedAudience: readRule("scoped-audience.cel"),
  toolAccess: readRule("tool-access.cel"),
};

function readRule(file: string): string {
  return fs.readFileSync(path.join(RULES_DIR, file), "utf8").trimEnd();
}

const json = (value: object) => JSON.stringify(value, null, 2) + "\n";

/** The AuthPolicy spec of the guide's use case 2 (without targetRef, which comes from the route). */
export function authPolicyRules(a: Omit<ToolAuthPolicyArgs, "policyName" | "routeName" | "namespace" | "metadata">) {
  return {
    authentication: {
      keycloak: { jwt: { issuerUrl: a.issuerUrl } },
    },
    metadata: {
      "oauth-token-exchange": {
        when: [{ predicate: authRules.exchangeWhen }],
        http: {
          url: `${a.issuerUrl}/protocol/openid-connect/token`,
          method: "POST",
          credentials: { authorizationHeader: { prefix: "Basic" } },
          sharedSecretRef: { name: a.tokenExchangeSecret, key: "oauth-client-basic-auth" },
          bodyParameters: {
            grant_type: { value: "urn:ietf:params:oauth:grant-type:token-exchange" },
            subject_token: { expression: "request.headers['authorization'].split('Bearer ')[1]" },
            subject_token_type: { value: "urn:ietf:params:oauth:token-type:access_token" },
            audience: { expression: "request.headers['x-mcp-servername']" },
            scope: { value: "openid profile groups" },
          },
        },
      },
    },
    authorization: {
      token: { opa: { rego: authRules.rego, allValues: true }, priority: 0 },
      "scoped-audience-check": {
        patternMatching: { patterns: [{ predicate: authRules.scopedAudience }] },
        priority: 1,
      },
      "tool-access-check": {
        patternMatching: { patterns: [{ predicate: toolAccessPredicate(a.rolePrefix) }] },
        priority: 1,
      },
    },
    response: {
      success: {
        headers: { authorization: { plain: { expression: '"Bearer " + auth.authorization.token.jwt' } } },
      },
      unauthenticated: {
        code: 401,
        headers: { "WWW-Authenticate": { value: `Bearer resource_metadata=${a.resourceMetadataUrl}` } },
        body: { value: json({ error: "Forbidden", message: "MCP Tool Access denied. Unauthenticated." }) },
      },
      unauthorized: {
        code: 403,
        body: {
          value: json({
            error: "Forbidden",
            message: "MCP Tool Access denied. Insufficient permissions for this tool.",
          }),
        },
      },
    },
  } satisfies crds.Inputs<crds.AuthPolicyRules>;
}

/**
 * Kuadrant AuthPolicy on the MCP server's route: validates the caller's Keycloak token,
 * exchanges it for one scoped to this server, and lets a tool call through only when the
 * scoped token carries the tool's client role.
 */
export class ToolAuthPolicy extends pulumi.ComponentResource {
  public readonly policy: k8s.apiextensions.CustomResource;

  constructor(name: string, args: ToolAuthPolicyArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mcp-gateway-stack:auth:ToolAuthPolicy", name, {}, opts);
    this.policy = new k8s.apiextensions.CustomResource(
      `${name}-policy`,
      {
        apiVersion: "kuadrant.io/v1",
        kind: "AuthPolicy",
        metadata: { name: args.policyName, namespace: args.namespace },
        spec: {
          targetRef: { group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: args.routeName },
          rules: { ...authPolicyRules(args), ...(args.metadata && { metadata: args.metadata }) },
        },
      } satisfies crds.AuthPolicyArgs,
      childOptions(this, opts),
    );
    this.registerOutputs({});
  }
}
