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
import { oidcValues, runStack, type StackRun } from "./support/pulumiHarness";

const seen = (run: StackRun): SeenResource[] =>
  run.resources.map((r) => ({ type: r.type, name: r.name, props: r.inputs }));
const allProblems = (run: StackRun, allowClusterAdmin: boolean) => {
  const resources = seen(run);
  const config = { useCase: run.config.useCase, allowClusterAdmin };
  return [
    ...authPolicyMatchesUseCase(resources, config),
    ...resources.flatMap((r) => [
      ...clusterAdminAllowed(r, config),
      ...listenerPatchNeverForces(r),
      ...noPlaintextSecrets(r),
    ]),
    ...registrationIsRoutable(resources),
  ];
};

describe("the policy pack's rules on the stack as declared", async () => {
  const noAuth = await runStack({});
  const oidc = await runStack(oidcValues());

  it("pass both use cases with the guide's config, for both gateway releases", async () => {
    expect(allProblems(noAuth, false)).toEqual([]);
    expect(allProblems(oidc, true)).toEqual([]);
    const kuadrant = await runStack(oidcValues({ gateway: { release: "kuadrant-v0.9.0" } }));
    expect(seen(kuadrant).filter((r) => r.type.endsWith(":MCPServerRegistration"))).toHaveLength(1);
    expect(allProblems(kuadrant, true)).toEqual([]);
  });

  it("refuse an MCPServerRegistration whose route the stack does not declare", async () => {
    const kuadrant = seen(await runStack({ gateway: { release: "kuadrant-v0.9.0" } }));
    const withoutRoute = kuadrant.filter((r) => !r.type.endsWith(":HTTPRoute"));
    expect(registrationIsRoutable(withoutRoute)).toEqual([
      'MCPServerRegistration mcp-test/kubernetes-mcp-server targets HTTPRoute mcp-test/kubernetes-mcp, not an HTTPRoute the stack declares: the gateway\'s controller reports "failed to get targeted httproute"',
    ]);
  });

  it("refuse an oidc stack without an AuthPolicy and a no-auth stack with one", () => {
    const withoutPolicy = seen(oidc).filter((r) => !r.type.endsWith("AuthPolicy"));
    expect(authPolicyMatchesUseCase(withoutPolicy, { useCase: "oidc", allowClusterAdmin: true })[0]).toMatch(
      /no AuthPolicy/,
    );
    expect(authPolicyMatchesUseCase(seen(oidc), { useCase: "no-auth", allowClusterAdmin: true })[0]).toMatch(
      /declares AuthPolicy kubernetes-mcp-auth-policy/,
    );
  });

  it("refuse the guide's cluster-admin binding when the config does not allow it", () => {
    expect(allProblems(oidc, false)).toEqual([
      "ClusterRoleBinding oidc-mcp-cluster-admin grants cluster-admin to https://keycloak.127-0-0-1.sslip.io:8002/realms/mcp#mcp while oidc.allowClusterAdmin is false",
    ]);
  });

  it("accept a binding to another ClusterRole without the allowance", async () => {
    const view = await runStack(oidcValues({ oidc: { clusterRole: "view", allowClusterAdmin: false } }));
    expect(allProblems(view, false)).toEqual([]);
  });

  it("refuse a listener patch that forces ownership", () => {
    const patch = seen(noAuth).find((r) => r.type.endsWith("GatewayPatch"))!;
    const forced = {
      ...patch,
      props: {
        ...patch.props,
        metadata: { ...patch.props.metadata, annotations: { "pulumi.com/patchForce": "true" } },
      },
    };
    expect(listenerPatchNeverForces(patch)).toEqual([]);
    expect(listenerPatchNeverForces(forced)).toEqual([
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
    const problems = registrationIsRoutable([...seen(noAuth), ...asSeen(objects)]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain("readyMessage" in controller ? controller.readyMessage : "ExternalName");
  });

  it("refuse credentials in a command line, an annotation or a Secret's stringData", () => {
    const command = { type: "command:local:Command", name: "c", props: { create: "make setup PASSWORD=hunter2" } };
    const annotated = {
      type: "kubernetes:core/v1:Service",
      name: "s",
      props: { metadata: { annotations: { note: "client-key-data: S0VZ" } } },
    };
    const secret = { type: "kubernetes:core/v1:Secret", name: "t", props: { stringData: { k: "v" } } };
    expect(noPlaintextSecrets(command)[0]).toMatch(/create holds a password assignment/);
    expect(noPlaintextSecrets(annotated)[0]).toMatch(/metadata.annotations.note holds a kubeconfig client key/);
    expect(noPlaintextSecrets(secret)[0]).toMatch(/stringData/);
  });
});

describe("the policy config of the dev stack", () => {
  it("states the same use case and cluster-admin allowance as Pulumi.dev.yaml", async () => {
    const fs = await import("node:fs");
    const { parse } = await import("yaml");
    const { parseStackConfig } = await import("../stacks/config");
    const dev = parse(fs.readFileSync("Pulumi.dev.yaml", "utf8")).config as Record<string, unknown>;
    const values = Object.fromEntries(Object.entries(dev).map(([k, v]) => [k.split(":")[1], v]));
    const cfg = parseStackConfig({ values: { ...values, keycloak: { adminPassword: "x" } }, secretKeys: ["keycloak"] });
    const policyConfig = JSON.parse(fs.readFileSync("policy/config.dev.json", "utf8"));
    expect(policyConfig["auth-policy-matches-use-case"].useCase).toBe(cfg.useCase);
    expect(policyConfig["cluster-admin-only-when-allowed"].allowClusterAdmin).toBe(
      parseStackConfig({
        values: { ...values, useCase: "oidc", keycloak: { adminPassword: "x" } },
        secretKeys: ["keycloak"],
      }).oidc!.allowClusterAdmin,
    );
  });
});
