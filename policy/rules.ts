/**
 * The stack's invariants as pure functions over what a policy sees (type, name, props), so they
 * are unit-tested without the policy server. `index.ts` wires them into the PolicyPack.
 */

export interface SeenResource {
  type: string;
  name: string;
  props: Record<string, any>;
  /** Stack policies only: the resource's URN and its parent's ('' or absent at the top). */
  urn?: string;
  parent?: string;
  /** The outputs Pulumi keeps secret whatever the value (the additionalSecretOutputs option). */
  secretOutputs?: string[];
}

export const AUTH_POLICY_TYPE = "kubernetes:kuadrant.io/v1:AuthPolicy";
export const BINDING_TYPE = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding";
export const GATEWAY_PATCH_TYPE = "kubernetes:gateway.networking.k8s.io/v1:GatewayPatch";
export const COMMAND_TYPE = "command:local:Command";
export const SECRET_TYPE = "kubernetes:core/v1:Secret";
export const TOOL_ACCESS_TYPE = "mcp-gateway-stack:keycloak:ToolAccess";
export const CLUSTER_ACCESS_TYPE = "mcp-gateway-stack:auth:OidcClusterAccess";

/**
 * With auth (the stack grants tools through Keycloak: use cases oidc and cross-domain) every
 * HTTPRoute has an AuthPolicy aimed at it (same namespace, targetRef kind and name) with an
 * authentication rule, and every AuthPolicy aims at a declared route; without, no AuthPolicy.
 */
export function authPolicyMatchesUseCase(resources: SeenResource[]): string[] {
  // A preview onto a cluster that does not exist yet (kind mode) knows none of its objects'
  // outputs: those are judged by the up that makes them, not refused for being unknown.
  const known = (r: SeenResource) => r.props?.spec !== undefined;
  const policies = resources.filter((r) => r.type === AUTH_POLICY_TYPE && known(r));
  const routes = resources.filter((r) => r.type === HTTP_ROUTE_TYPE && known(r));
  if (!resources.some((r) => r.type === TOOL_ACCESS_TYPE)) {
    return policies.map(
      (p) =>
        `AuthPolicy ${objectName(p)} in a stack that grants no tool through Keycloak (use case no-auth): its tool check would refuse every call`,
    );
  }
  const target = (p: SeenResource) =>
    `${p.props.spec?.targetRef?.kind} ${p.props.metadata?.namespace ?? "default"}/${p.props.spec?.targetRef?.name}`;
  const routeKeys = routes.map((r) => `HTTPRoute ${objectName(r)}`);
  const problems = policies.flatMap((p) => [
    ...(routeKeys.includes(target(p))
      ? []
      : [`AuthPolicy ${objectName(p)} targets ${target(p)}, not a route the stack declares`]),
    ...(Object.keys(p.props.spec?.rules?.authentication ?? {}).length > 0
      ? []
      : [`AuthPolicy ${objectName(p)} has no authentication rule: a request without a token would pass it`]),
  ]);
  for (const route of routeKeys.filter((key) => !policies.some((p) => target(p) === key))) {
    problems.push(
      `${route} has no AuthPolicy while the stack grants its tools through Keycloak: it would be reachable without a token`,
    );
  }
  return problems;
}

/**
 * No ClusterRoleBinding to cluster-admin unless the OidcClusterAccess that declares it says the
 * stack allows it (its allowClusterAdmin, from oidc.allowClusterAdmin).
 */
export function clusterAdminAllowed(resources: SeenResource[]): string[] {
  const allowed = (binding: SeenResource) => {
    const parent = resources.find((r) => r.urn !== undefined && r.urn === binding.parent);
    return parent?.type === CLUSTER_ACCESS_TYPE && parent.props.allowClusterAdmin === true;
  };
  return resources
    .filter((r) => r.type === BINDING_TYPE && r.props.roleRef?.name === "cluster-admin" && !allowed(r))
    .map((r) => {
      const subjects = (r.props.subjects ?? []).map((s: { name?: string }) => s.name).join(", ");
      return `ClusterRoleBinding ${r.props.metadata?.name ?? r.name} grants cluster-admin to ${subjects}, but no OidcClusterAccess above it declares allowClusterAdmin true (oidc.allowClusterAdmin)`;
    });
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
 * No secret in plain text where Pulumi cannot encrypt it: command lines (printed and logged) and
 * Kubernetes labels and annotations (readable by anyone who can list the object). A Secret's
 * stringData and data must be outputs Pulumi keeps secret: @pulumi/policy unwraps secret values
 * before a policy sees them, so whether the program passed a secret shows only in that option.
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
  if (r.type === SECRET_TYPE) {
    for (const field of ["stringData", "data"].filter((f) => r.props[f] !== undefined)) {
      if (!(r.secretOutputs ?? []).includes(field))
        problems.push(
          `Secret ${r.name}: ${field} is not among the outputs Pulumi keeps secret (additionalSecretOutputs); declare it with k8s.core.v1.Secret`,
        );
    }
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
