import { describe, expect, it } from "vitest";
import {
  authPolicyMatchesUseCase,
  clusterAdminAllowed,
  listenerPatchNeverForces,
  noPlaintextSecrets,
  registrationIsRoutable,
  type SeenResource,
} from "../policy/rules";
import { asSeen, brokenRegistrations } from "./support/brokenRegistrations";
import { crossDomainValues, oidcValues, runStack, type StackRun } from "./support/pulumiHarness";

/** What the pack sees of a run, as validateStack hands it: with URN, parent and secret outputs. */
const seen = (run: StackRun): SeenResource[] =>
  run.resources.map((r) => ({
    type: r.type,
    name: r.name,
    props: r.inputs,
    urn: r.urn,
    parent: r.parent,
    secretOutputs: r.options.additionalSecretOutputs,
  }));

/** Every rule of the pack (policy/index.ts), with no policy config: the resources say it all. */
const allProblems = (resources: SeenResource[]) => [
  ...authPolicyMatchesUseCase(resources),
  ...clusterAdminAllowed(resources),
  ...resources.flatMap((r) => [...listenerPatchNeverForces(r), ...noPlaintextSecrets(r)]),
  ...registrationIsRoutable(resources),
];

/** The resources with the one named `name` changed by `change` (a deep copy: runs are shared). */
function changed(resources: SeenResource[], name: string, change: (r: SeenResource) => void): SeenResource[] {
  return resources.map((r) => {
    if (r.name !== name) return r;
    const copy = structuredClone(r);
    change(copy);
    return copy;
  });
}

const ISSUER = "https://keycloak.127-0-0-1.sslip.io:8002/realms/mcp";
const CLUSTER_ADMIN = { oidc: { clusterRole: "cluster-admin", allowClusterAdmin: true } };

describe("the policy pack's rules on every use case, as the stack declares it", async () => {
  const runs: Record<string, StackRun> = {
    "no-auth": await runStack({}),
    oidc: await runStack(oidcValues()),
    "oidc with cluster-admin allowed": await runStack(oidcValues(CLUSTER_ADMIN)),
    "oidc on kuadrant-v0.9.0": await runStack(oidcValues({ gateway: { release: "kuadrant-v0.9.0" } })),
    "cross-domain": await runStack(crossDomainValues()),
    "cross-domain with cluster-admin allowed": await runStack({ ...crossDomainValues(), ...CLUSTER_ADMIN }),
  };
  const noAuth = seen(runs["no-auth"]);
  const oidc = seen(runs.oidc);
  const admin = seen(runs["oidc with cluster-admin allowed"]);
  const crossDomain = seen(runs["cross-domain"]);

  it("leave to the up what a kind-mode preview cannot know (the cluster's objects' outputs), yet judge what it knows", () => {
    const unknownOutputs = (r: SeenResource) => ({ ...r, props: {} });
    const inPreview = oidc.map((r) =>
      r.type === "kubernetes:kuadrant.io/v1:AuthPolicy" || r.type.endsWith(":HTTPRoute") ? unknownOutputs(r) : r,
    );
    expect(authPolicyMatchesUseCase(inPreview)).toEqual([]);
    // A known policy with no route it aims at is still refused.
    const stray = changed(oidc, "kubernetes-mcp-route", (r) => (r.props = {}));
    const aimedElsewhere = changed(stray, "kubernetes-mcp-auth-policy", (r) => (r.props.spec.targetRef.name = "other"));
    expect(authPolicyMatchesUseCase(aimedElsewhere)).toEqual([
      "AuthPolicy mcp-test/kubernetes-mcp-auth-policy targets HTTPRoute mcp-test/other, not a route the stack declares",
    ]);
  });

  it.each(Object.keys(runs))("pass %s, every rule, without a policy config", (useCase) => {
    expect(allProblems(seen(runs[useCase]))).toEqual([]);
  });

  it("refuse a cluster-admin binding whose OidcClusterAccess does not declare allowClusterAdmin true", () => {
    const undeclared = changed(admin, "oidc-user", (r) => (r.props.allowClusterAdmin = false));
    expect(allProblems(undeclared)).toEqual([
      `ClusterRoleBinding oidc-mcp-cluster-admin grants cluster-admin to ${ISSUER}#mcp, but no OidcClusterAccess above it declares allowClusterAdmin true (oidc.allowClusterAdmin)`,
    ]);
  });

  it("refuse a cluster-admin binding declared outside an OidcClusterAccess", () => {
    const loose = changed(admin, "oidc-user-binding", (r) => (r.parent = ""));
    expect(clusterAdminAllowed(loose)).toHaveLength(1);
    expect(clusterAdminAllowed(admin)).toEqual([]);
  });

  it("refuse an oidc stack whose route has no AuthPolicy", () => {
    const withoutPolicy = oidc.filter((r) => !r.type.endsWith(":AuthPolicy"));
    expect(allProblems(withoutPolicy)).toEqual([
      "HTTPRoute mcp-test/kubernetes-mcp has no AuthPolicy while the stack grants its tools through Keycloak: it would be reachable without a token",
    ]);
  });

  it("refuse a cross-domain stack when one cluster's route has no AuthPolicy", () => {
    const withoutB = crossDomain.filter((r) => r.name !== "kubernetes-mcp-b-auth-policy");
    expect(allProblems(withoutB)).toEqual([
      "HTTPRoute mcp-test/kubernetes-mcp-b has no AuthPolicy while the stack grants its tools through Keycloak: it would be reachable without a token",
    ]);
  });

  it("refuse an AuthPolicy aimed at another route, in another namespace or at another kind", () => {
    const policy = "kubernetes-mcp-b-auth-policy";
    const atA = changed(crossDomain, policy, (r) => (r.props.spec.targetRef.name = "kubernetes-mcp"));
    expect(allProblems(atA)).toEqual([
      "HTTPRoute mcp-test/kubernetes-mcp-b has no AuthPolicy while the stack grants its tools through Keycloak: it would be reachable without a token",
    ]);
    const elsewhere = changed(oidc, "kubernetes-mcp-auth-policy", (r) => (r.props.metadata.namespace = "other"));
    expect(allProblems(elsewhere)).toEqual([
      "AuthPolicy other/kubernetes-mcp-auth-policy targets HTTPRoute other/kubernetes-mcp, not a route the stack declares",
      "HTTPRoute mcp-test/kubernetes-mcp has no AuthPolicy while the stack grants its tools through Keycloak: it would be reachable without a token",
    ]);
    const atGateway = changed(oidc, "kubernetes-mcp-auth-policy", (r) => (r.props.spec.targetRef.kind = "Gateway"));
    expect(allProblems(atGateway)[0]).toBe(
      "AuthPolicy mcp-test/kubernetes-mcp-auth-policy targets Gateway mcp-test/kubernetes-mcp, not a route the stack declares",
    );
  });

  it("refuse an AuthPolicy without an authentication rule", () => {
    for (const authentication of [undefined, {}]) {
      const open = changed(
        oidc,
        "kubernetes-mcp-auth-policy",
        (r) => (r.props.spec.rules.authentication = authentication),
      );
      expect(allProblems(open)).toEqual([
        "AuthPolicy mcp-test/kubernetes-mcp-auth-policy has no authentication rule: a request without a token would pass it",
      ]);
    }
  });

  it("refuse an AuthPolicy in a stack that grants no tool through Keycloak (use case 1)", () => {
    const policy = oidc.find((r) => r.type.endsWith(":AuthPolicy"))!;
    expect(allProblems([...noAuth, policy])).toEqual([
      "AuthPolicy mcp-test/kubernetes-mcp-auth-policy in a stack that grants no tool through Keycloak (use case no-auth): its tool check would refuse every call",
    ]);
  });

  it("refuse an MCPServerRegistration whose route the stack does not declare", async () => {
    const kuadrant = seen(await runStack({ gateway: { release: "kuadrant-v0.9.0" } }));
    const withoutRoute = kuadrant.filter((r) => !r.type.endsWith(":HTTPRoute"));
    expect(registrationIsRoutable(withoutRoute)).toEqual([
      'MCPServerRegistration mcp-test/kubernetes-mcp-server targets HTTPRoute mcp-test/kubernetes-mcp, not an HTTPRoute the stack declares: the gateway\'s controller reports "failed to get targeted httproute"',
    ]);
  });

  it("refuse a listener patch that forces ownership", () => {
    const patch = noAuth.find((r) => r.type.endsWith("GatewayPatch"))!;
    const forced = changed(
      [patch],
      patch.name,
      (r) => (r.props.metadata.annotations = { "pulumi.com/patchForce": "true" }),
    );
    expect(listenerPatchNeverForces(patch)).toEqual([]);
    expect(listenerPatchNeverForces(forced[0])).toEqual([
      "Gateway patch kubernetes-mcp-patch sets pulumi.com/patchForce: it would take fields other managers own",
    ]);
  });

  it.each(
    brokenRegistrations({
      host: "localhost",
      port: 9999,
      gatewayName: "mcp-gateway",
      gatewayNamespace: "gateway-system",
    }),
  )("refuse $title, quoting what the gateway's controller would do", ({ objects, controller }) => {
    const problems = registrationIsRoutable([...noAuth, ...asSeen(objects)]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain("readyMessage" in controller ? controller.readyMessage : "ExternalName");
  });

  it("refuse credentials in a command line or an annotation", () => {
    const command = { type: "command:local:Command", name: "c", props: { create: "make setup PASSWORD=hunter2" } };
    const annotated = {
      type: "kubernetes:core/v1:Secret",
      name: "s",
      props: { metadata: { annotations: { note: "client-key-data: S0VZ" } } },
      secretOutputs: ["data", "stringData"],
    };
    expect(noPlaintextSecrets(command)[0]).toMatch(/create holds a password assignment/);
    expect(noPlaintextSecrets(annotated)[0]).toMatch(/metadata.annotations.note holds a kubeconfig client key/);
  });

  it("accept use case 3's grant Secret, whose stringData Pulumi keeps secret, and refuse one it would not", () => {
    const grant = crossDomain.find((r) => r.type === "kubernetes:core/v1:Secret")!;
    expect(grant.props.stringData).toBeDefined();
    expect(noPlaintextSecrets(grant)).toEqual([]);
    const plain = { ...grant, secretOutputs: ["data"] };
    expect(noPlaintextSecrets(plain)).toEqual([
      "Secret domain-b-trust-grant-secret: stringData is not among the outputs Pulumi keeps secret (additionalSecretOutputs); declare it with k8s.core.v1.Secret",
    ]);
  });
});
