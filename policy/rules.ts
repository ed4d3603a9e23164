/**
 * The stack's invariants as pure functions over what a policy sees (type, name, props), so they
 * are unit-tested without the policy server. `index.ts` wires them into the PolicyPack.
 */

export interface PolicyConfig {
  /** The stack's use case (`pulumi config get useCase`). */
  useCase: "no-auth" | "oidc";
  /** The stack's `oidc.allowClusterAdmin`. */
  allowClusterAdmin: boolean;
}

export interface SeenResource {
  type: string;
  name: string;
  props: Record<string, any>;
}

export const AUTH_POLICY_TYPE = "kubernetes:kuadrant.io/v1:AuthPolicy";
export const BINDING_TYPE = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding";
export const GATEWAY_PATCH_TYPE = "kubernetes:gateway.networking.k8s.io/v1:GatewayPatch";
export const COMMAND_TYPE = "command:local:Command";

/** An AuthPolicy exists exactly when the use case is `oidc`. */
export function authPolicyMatchesUseCase(resources: SeenResource[], config: PolicyConfig): string[] {
  const policies = resources.filter((r) => r.type === AUTH_POLICY_TYPE);
  if (config.useCase === "oidc" && policies.length === 0) {
    return [
      "useCase is 'oidc' but the stack declares no AuthPolicy: the MCP server would be reachable without a token",
    ];
  }
  if (config.useCase === "no-auth" && policies.length > 0) {
    return [`useCase is 'no-auth' but the stack declares AuthPolicy ${policies.map((p) => p.name).join(", ")}`];
  }
  return [];
}

/** No ClusterRoleBinding to cluster-admin unless the stack's config allows it. */
export function clusterAdminAllowed(r: SeenResource, config: PolicyConfig): string[] {
  if (r.type !== BINDING_TYPE || r.props.roleRef?.name !== "cluster-admin" || config.allowClusterAdmin) return [];
  const subjects = (r.props.subjects ?? []).map((s: { name?: string }) => s.name).join(", ");
  return [
    `ClusterRoleBinding ${r.props.metadata?.name ?? r.name} grants cluster-admin to ${subjects} while oidc.allowClusterAdmin is false`,
  ];
}

/** The listener patch shares the Gateway with other owners: it must never take their fields. */
export function listenerPatchNeverForces(r: SeenResource): string[] {
  if (r.type !== GATEWAY_PATCH_TYPE) return [];
  const annotations: Record<string, string> = r.props.metadata?.annotations ?? {};
  const problems: string[] = [];
  if (String(annotations["pulumi.com/patchForce"]) === "true") {
    problems.push(`Gateway patch ${r.name} sets pulumi.com/patchForce: it would take fields other managers own`);
  }
  if (!annotations["pulumi.com/patchFieldManager"]) {
    problems.push(`Gateway patch ${r.name} has no pulumi.com/patchFieldManager: it would share a field manager`);
  }
  return problems;
}

/** Credential material that must never appear in a field that is always plain text. */
const CREDENTIAL_PATTERNS: Array<[string, RegExp]> = [
  ["a kubeconfig client key", /client-key-data:\s*\S/],
  ["a kubeconfig token", /^\s*token:\s*\S/m],
  ["a private key", /-----BEGIN [A-Z ]*PRIVATE KEY-----/],
  ["a password assignment", /password\s*[=:]\s*['"]?[^\s'"$]+/i],
];

function credentialsIn(text: unknown): string[] {
  if (typeof text !== "string") return [];
  return CREDENTIAL_PATTERNS.filter(([, re]) => re.test(text)).map(([what]) => what);
}

/**
 * No secret in plain text where Pulumi cannot encrypt it: command lines (printed and logged),
 * Kubernetes labels and annotations (readable by anyone who can list the object), and
 * Secret objects with stringData in the program. Secret values belong in secret inputs.
 */
export function noPlaintextSecrets(r: SeenResource): string[] {
  const fields: Array<[string, unknown]> = [];
  if (r.type === COMMAND_TYPE) {
    for (const key of ["create", "update", "delete"]) fields.push([key, r.props[key]]);
  }
  if (r.type.startsWith("kubernetes:")) {
    for (const [k, v] of Object.entries(r.props.metadata?.annotations ?? {}))
      fields.push([`metadata.annotations.${k}`, v]);
    for (const [k, v] of Object.entries(r.props.metadata?.labels ?? {})) fields.push([`metadata.labels.${k}`, v]);
  }
  const problems = fields.flatMap(([field, value]) =>
    credentialsIn(value).map(
      (what) => `${r.type} ${r.name}: ${field} holds ${what} in plain text; pass it as a secret input`,
    ),
  );
  if (r.type === "kubernetes:core/v1:Secret" && r.props.stringData) {
    problems.push(
      `Secret ${r.name} carries stringData in the program; create it from a Pulumi secret or outside the stack`,
    );
  }
  return problems;
}
