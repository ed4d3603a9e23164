import { describe, expect, it } from "vitest";
import { validateGatewayListener, validateManifest } from "../support/schemas";
import { TWO_CONTEXTS, oidcValues, runStack } from "../support/pulumiHarness";

/** The object a Kubernetes resource sends to the API server, as the stack declared it. */
const manifestOf = (inputs: Record<string, any>) => {
  const { apiVersion, kind, metadata, spec, roleRef, subjects, stringData } = inputs;
  return Object.fromEntries(
    Object.entries({ apiVersion, kind, metadata, spec, roleRef, subjects, stringData }).filter(
      ([, v]) => v !== undefined,
    ),
  );
};

const DOMAIN_B = {
  name: "b",
  realm: "cluster-b",
  kubeconfig: TWO_CONTEXTS,
  context: "prod",
  port: 9992,
  host: "b.example.test",
};

describe("every Kubernetes object the stack declares is valid against its real schema", async () => {
  const kuadrant = { gateway: { release: "kuadrant-v0.9.0" } };
  const runs = {
    "no-auth": await runStack({}),
    oidc: await runStack(oidcValues()),
    "kuadrant-v0.9.0 no-auth": await runStack(kuadrant),
    "kuadrant-v0.9.0 oidc": await runStack(oidcValues(kuadrant)),
    "cross-domain": await runStack(oidcValues({ useCase: "cross-domain", domains: [DOMAIN_B] })),
  };
  for (const [useCase, run] of Object.entries(runs)) {
    const objects = run.resources.filter((r) => r.type.startsWith("kubernetes:") && !r.type.endsWith("Patch"));
    for (const r of objects) {
      it(`${useCase}: ${r.type} ${r.name}`, () => {
        expect(validateManifest(manifestOf(r.inputs))).toEqual([]);
      });
    }
    it(`${useCase}: the listener patched onto the Gateway`, () => {
      const patches = run.ofType("kubernetes:gateway.networking.k8s.io/v1:GatewayPatch");
      expect(patches).toHaveLength(useCase === "cross-domain" ? 2 : 1);
      for (const patch of patches) expect(validateGatewayListener(patch.inputs.spec.listeners[0])).toEqual([]);
    });
  }

  it("catches a broken object the stack could declare (a ServiceEntry port given as text)", () => {
    const entry = runs["no-auth"].byName("kubernetes-mcp-service-entry").inputs;
    const broken = manifestOf({
      ...entry,
      spec: { ...entry.spec, ports: [{ ...entry.spec.ports[0], number: "9999x" }] },
    });
    expect(validateManifest(broken).join()).toContain("spec.ports[0].number");
  });

  it("catches a registration of release kuadrant-v0.9.0 with the kagenti field name (toolPrefix)", () => {
    const registration = runs["kuadrant-v0.9.0 no-auth"].byName("kubernetes-mcp-mcp-server").inputs;
    const { prefix, ...rest } = registration.spec;
    const broken = manifestOf({ ...registration, spec: { ...rest, toolPrefix: prefix } });
    expect(validateManifest(broken).join()).toMatch(/toolPrefix/);
  });
});
