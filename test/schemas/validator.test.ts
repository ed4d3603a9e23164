// The validator must accept the guide's objects and reject broken ones, or the stack's tests prove
// nothing.

import { describe, expect, it } from "vitest";
import { guideManifests } from "../support/guide";
import { pinnedCrds, validateGatewayListener, validateManifest } from "../support/schemas";

type Obj = Record<string, any>;
const clone = <T>(o: T): T => structuredClone(o);
/** A copy of `base` with `change` applied to it. */
const variant = (base: Obj, change: (o: Obj) => void): Obj => {
  const o = clone(base);
  change(o);
  return o;
};

// The guide's objects (test/fixtures/guide-manifests.yaml); metadata.namespace as the stack sets it.
const inMcpTest = (o: Obj): Obj => ({ ...o, metadata: { namespace: "mcp-test", ...o.metadata } });
const guideListener = guideManifests.Gateway.spec.listeners[0];
const httpRoute = inMcpTest(guideManifests.HTTPRoute);
const service = inMcpTest(guideManifests.Service);
const serviceEntry = inMcpTest(guideManifests.ServiceEntry);
const mcpServer = inMcpTest(guideManifests.MCPServer);
const authPolicy = guideManifests.AuthPolicy;
const clusterRoleBinding = guideManifests.ClusterRoleBinding;

const guideObjects: Array<[string, Obj]> = [
  ["HTTPRoute", httpRoute],
  ["Service", service],
  ["ServiceEntry", serviceEntry],
  ["MCPServer", mcpServer],
  ["AuthPolicy", authPolicy],
  ["ClusterRoleBinding", clusterRoleBinding],
];

describe("the guide's objects", () => {
  for (const [kind, obj] of guideObjects) {
    it(`the guide's ${kind} is valid`, () => {
      expect(validateManifest(obj)).toEqual([]);
    });
  }

  it("the guide's Gateway listener is valid", () => {
    expect(validateGatewayListener(guideListener)).toEqual([]);
  });

  it("validating does not change the object it is given", () => {
    const copy = clone(mcpServer);
    validateManifest(copy);
    expect(copy).toEqual(mcpServer);
  });
});

describe("broken objects", () => {
  const broken: Array<[string, Obj, string]> = [
    [
      "an HTTPRoute whose backend port is a string",
      variant(httpRoute, (o) => (o.spec.rules[0].backendRefs[0].port = "abc")),
      'spec.rules[0].backendRefs[0].port: must be integer (got "abc")',
    ],
    [
      "an HTTPRoute whose path match type is unknown",
      variant(httpRoute, (o) => (o.spec.rules[0].matches[0].path.type = "Prefix")),
      "spec.rules[0].matches[0].path.type: must be one of",
    ],
    [
      "an HTTPRoute whose parentRef has no name",
      variant(httpRoute, (o) => delete o.spec.parentRefs[0].name),
      "spec.parentRefs[0].name: required field is missing",
    ],
    [
      "a Service whose port is a string",
      variant(service, (o) => (o.spec.ports[0].port = "abc")),
      'spec.ports[0].port: must be integer (got "abc")',
    ],
    [
      "a Service whose ports are an object",
      variant(service, (o) => (o.spec.ports = { name: "http", port: 9999 })),
      "spec.ports: must be array",
    ],
    [
      "a ServiceEntry whose location is SOMEWHERE",
      variant(serviceEntry, (o) => (o.spec.location = "SOMEWHERE")),
      'spec.location: must be one of "MESH_EXTERNAL", "MESH_INTERNAL" (got "SOMEWHERE")',
    ],
    [
      "a ServiceEntry whose port number is a string",
      variant(serviceEntry, (o) => (o.spec.ports[0].number = "abc")),
      'spec.ports[0].number: must be integer (got "abc")',
    ],
    [
      "an MCPServer whose targetRef has no name",
      variant(mcpServer, (o) => delete o.spec.targetRef.name),
      "spec.targetRef.name: required field is missing",
    ],
    [
      "an MCPServer without a targetRef",
      variant(mcpServer, (o) => delete o.spec.targetRef),
      "spec.targetRef: required field is missing",
    ],
    [
      "an MCPServer that targets a Service",
      variant(mcpServer, (o) => (o.spec.targetRef.kind = "Service")),
      'spec.targetRef.kind: must be one of "HTTPRoute" (got "Service")',
    ],
    [
      "an MCPServer whose toolPrefix is a number",
      variant(mcpServer, (o) => (o.spec.toolPrefix = 7)),
      "spec.toolPrefix: must be string (got 7)",
    ],
    [
      "an MCPServer with a misspelt field",
      variant(mcpServer, (o) => (o.spec.toolprefix = "kube_")),
      "spec.toolprefix: unknown field",
    ],
    [
      "an MCPServer with a misspelt metadata field",
      variant(mcpServer, (o) => (o.metadata.label = { a: "b" })),
      "metadata.label: unknown field",
    ],
    [
      "an AuthPolicy whose unauthenticated code is a string",
      variant(authPolicy, (o) => (o.spec.rules.response.unauthenticated.code = "abc")),
      'spec.rules.response.unauthenticated.code: must be integer (got "abc")',
    ],
    [
      "an AuthPolicy whose authorization priority is a string",
      variant(authPolicy, (o) => (o.spec.rules.authorization.token.priority = "high")),
      'spec.rules.authorization.token.priority: must be integer (got "high")',
    ],
    [
      "an AuthPolicy whose jwt issuer is misspelt",
      variant(authPolicy, (o) => {
        o.spec.rules.authentication.keycloak.jwt = { issuerURL: "https://keycloak.127-0-0-1.sslip.io:8002/realms/mcp" };
      }),
      "spec.rules.authentication.keycloak.jwt.issuerURL: unknown field",
    ],
    [
      "an AuthPolicy whose sharedSecretRef has no name",
      variant(authPolicy, (o) => delete o.spec.rules.metadata["oauth-token-exchange"].http.sharedSecretRef.name),
      "spec.rules.metadata.oauth-token-exchange.http.sharedSecretRef.name: required field is missing",
    ],
    [
      "an AuthPolicy that targets a Service (a CEL rule of the CRD)",
      variant(authPolicy, (o) => (o.spec.targetRef = { group: "", kind: "Service", name: "kubernetes-mcp-external" })),
      "spec.targetRef: Invalid targetRef.kind",
    ],
    [
      "an AuthPolicy with no rules at all (a CEL rule of the CRD)",
      variant(authPolicy, (o) => (o.spec.rules = {})),
      "spec: At least one spec.rules must be defined",
    ],
    [
      "an AuthPolicy whose response header is plain text instead of an expression",
      variant(authPolicy, (o) => (o.spec.rules.response.success.headers.authorization.plain = "Bearer x")),
      "spec.rules.response.success.headers.authorization.plain: must be object",
    ],
    [
      "an MCPServer with a label value that is not a string",
      variant(mcpServer, (o) => (o.metadata.labels = { "app.kubernetes.io/part-of": 1 })),
      'metadata.labels["app.kubernetes.io/part-of"]: must be string (got 1)',
    ],
    [
      "a ClusterRoleBinding without a roleRef",
      variant(clusterRoleBinding, (o) => delete o.roleRef),
      "roleRef: required field is missing",
    ],
    [
      "a ClusterRoleBinding whose subject has no kind",
      variant(clusterRoleBinding, (o) => delete o.subjects[0].kind),
      "subjects[0].kind: required field is missing",
    ],
  ];

  for (const [what, obj, expected] of broken) {
    it(`${what} is rejected`, () => {
      const errors = validateManifest(obj);
      expect(
        errors.some((e) => e.includes(expected)),
        `expected "${expected}" among ${JSON.stringify(errors)}`,
      ).toBe(true);
    });
  }

  it("a listener whose port is a string is rejected", () => {
    expect(validateGatewayListener({ ...guideListener, port: "abc" })).toContain(
      'listener.port: must be integer (got "abc")',
    );
  });

  it("a listener without a protocol is rejected", () => {
    const { protocol: _protocol, ...listener } = guideListener;
    expect(validateGatewayListener(listener)).toContain("listener.protocol: required field is missing");
  });

  it("a listener that admits routes from Everywhere is rejected", () => {
    const listener = variant(guideListener, (l) => (l.allowedRoutes.namespaces.from = "Everywhere"));
    expect(validateGatewayListener(listener).join("\n")).toContain(
      "listener.allowedRoutes.namespaces.from: must be one of",
    );
  });
});

describe("what the validator has no schema for", () => {
  it("an unknown kind has no schema", () => {
    expect(validateManifest({ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" } })).toEqual([
      "no schema for example.com/v1/Widget",
    ]);
  });

  it("a known group at a version the pinned CRD does not serve has no schema", () => {
    const errors = validateManifest({ ...mcpServer, apiVersion: "mcp.kagenti.com/v1" });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^no schema for mcp\.kagenti\.com\/v1\/MCPServer: .* serves v1alpha1$/);
  });

  it("Kuadrant's MCPServerRegistration (v0.9.0) is checked against its own CRD: the kagenti field name is not in it", () => {
    const registration = { ...mcpServer, apiVersion: "mcp.kuadrant.io/v1", kind: "MCPServerRegistration" };
    expect(validateManifest(registration).join()).toMatch(/toolPrefix/);
    const { toolPrefix, targetRef } = mcpServer.spec as { toolPrefix: string; targetRef: object };
    expect(validateManifest({ ...registration, spec: { prefix: toolPrefix, targetRef } })).toEqual([]);
  });

  it("something that is not an object is rejected", () => {
    expect(validateManifest("kind: Service")).toHaveLength(1);
    expect(validateGatewayListener(null)).toEqual(["listener: must be an object"]);
  });

  it("the CRDs come from the pinned upstream modules", () => {
    expect(pinnedCrds().map((p) => `${p.group}/${p.kind}`)).toEqual([
      "mcp.kagenti.com/MCPServer",
      "kuadrant.io/AuthPolicy",
      "mcp.kuadrant.io/MCPServerRegistration",
    ]);
  });
});
