/**
 * The stack's invariants as pure functions over what a policy sees (type, name, props), so they
 * are unit-tested without the policy server. `index.ts` wires them into the PolicyPack.
 */

export interface PolicyConfig {
  /** The stack's use case (`pulumi config get useCase`). */
  useCase: "no-auth" | "oidc" | "cross-domain";
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

/** With auth (`oidc`, `cross-domain`) every route has its AuthPolicy; without, none has one. */
export function authPolicyMatchesUseCase(resources: SeenResource[], config: PolicyConfig): string[] {
  const policies = resources.filter((r) => r.type === AUTH_POLICY_TYPE);
  const routes = resources.filter((r) => r.type === HTTP_ROUTE_TYPE);
  if (config.useCase === "no-auth") {
    return policies.length === 0
      ? []
      : [`useCase is 'no-auth' but the stack declares AuthPolicy ${policies.map((p) => p.name).join(", ")}`];
  }
  if (policies.length === 0) {
    return [
      `useCase is '${config.useCase}' but the stack declares no AuthPolicy: the MCP server would be reachable without a token`,
    ];
  }
  if (policies.length < routes.length) {
    return [
      `useCase is '${config.useCase}' but the stack declares ${routes.length} HTTPRoutes and only ${policies.length} AuthPolicies: a server would be reachable without a token`,
    ];
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

export const MCP_SERVER_TYPE = "kubernetes:mcp.kagenti.com/v1alpha1:MCPServer";
export const MCP_REGISTRATION_TYPE = "kubernetes:mcp.kuadrant.io/v1:MCPServerRegistration";
export const HTTP_ROUTE_TYPE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute";
export const SERVICE_TYPE = "kubernetes:core/v1:Service";

const objectName = (r: SeenResource) =>
  `${r.props.metadata?.namespace ?? "default"}/${r.props.metadata?.name ?? r.name}`;

function routeNamespaceOf(server: SeenResource, ref: { namespace?: string }): string {
  const own = server.props.metadata?.namespace ?? "default";
  return server.type === MCP_REGISTRATION_TYPE ? own : (ref.namespace ?? own);
}

/**
 * Every MCPServer (or MCPServerRegistration) is one the gateway's controller can turn into a broker entry: its targetRef names
 * an HTTPRoute the stack declares, that route has a hostname, and its backend is an ExternalName
 * Service the stack declares (the server runs outside the cluster). Each message quotes what the
 * controller (kagenti/mcp-gateway pkg/controller, guide-fd2e9da) would report, or do, instead.
 */
export function registrationIsRoutable(resources: SeenResource[]): string[] {
  const find = (type: string, key: string) => resources.find((r) => r.type === type && objectName(r) === key);
  return (
    resources
      .filter((r) => r.type === MCP_SERVER_TYPE || r.type === MCP_REGISTRATION_TYPE)
      // In a preview, values that come from other resources are unknown (undefined here): judge
      // only what is known; the CRD's schema already requires a targetRef name.
      .filter((r) => r.props.spec?.targetRef?.name !== undefined)
      .flatMap((server) => {
        const ref = server.props.spec.targetRef;
        // Kuadrant's controller reads the route from the registration's own namespace only.
        const routeNamespace = routeNamespaceOf(server, ref);
        const routeKey = `${routeNamespace}/${ref.name}`;
        const route = find(HTTP_ROUTE_TYPE, routeKey);
        if (ref.kind !== "HTTPRoute" || !route) {
          return [
            `${server.props.kind ?? "MCPServer"} ${objectName(server)} targets ${ref.kind ?? "nothing"} ${routeKey}, not an HTTPRoute the stack declares: the gateway's controller reports ${server.type === MCP_REGISTRATION_TYPE ? `"failed to get targeted httproute"` : `"HTTPRoute ${routeKey} not found"`}`,
          ];
        }
        const problems: string[] = [];
        if (route.props.spec === undefined) return [];
        if (!(route.props.spec.hostnames?.length > 0)) {
          problems.push(
            `HTTPRoute ${routeKey} has no hostname: the gateway's controller reports "HTTPRoute ${routeKey} must have at least one hostname for MCP backend routing"`,
          );
        }
        const backend = route.props.spec?.rules?.[0]?.backendRefs?.[0] ?? {};
        const serviceKey = `${backend.namespace ?? route.props.metadata?.namespace ?? "default"}/${backend.name}`;
        const service = find(SERVICE_TYPE, serviceKey);
        if (backend.name === undefined) return problems;
        if (service?.props.spec?.type !== "ExternalName") {
          problems.push(
            `HTTPRoute ${routeKey} sends to ${service ? `Service ${serviceKey} of type ${service.props.spec?.type ?? "ClusterIP"}` : `${serviceKey}, a Service the stack does not declare`}: the gateway's controller would point the broker at ${backend.name}.${serviceKey.split("/")[0]}.svc.cluster.local, not at the server outside the cluster; use an ExternalName Service`,
          );
        }
        return problems;
      })
  );
}
