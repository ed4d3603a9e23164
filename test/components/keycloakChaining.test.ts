import { describe, expect, it } from "vitest";
import {
  chainingPatchSpec,
  grantSupport,
  IMAGE_RESTORE,
  IMAGE_SET,
  kubeAccessOf,
} from "../../components/keycloakChaining";
import { parseStackConfig } from "../../stacks/config";
import {
  crossDomainValues,
  DOMAIN_B,
  FAKE_GATEWAY_ADDRESS,
  FAKE_GATEWAY_CA,
  FAKE_KUBECONFIG,
  plaintextPaths,
  runStack,
  writeTemp,
} from "../support/pulumiHarness";

const REALM_HOST = "keycloak.127-0-0-1.sslip.io";

describe("which Keycloak images can chain", () => {
  it.each([
    ["quay.io/keycloak/keycloak:26.7.3", "default"],
    ["quay.io/keycloak/keycloak:27.0", "default"],
    ["quay.io/keycloak/keycloak:26.6.1", "feature"],
    ["registry.local:5000/keycloak:26.5", "feature"],
    ["quay.io/keycloak/keycloak:26.4", "none"], // Kuadrant v0.9.0's pin
    ["quay.io/keycloak/keycloak:26.3", "none"], // the guide's pin
    ["quay.io/keycloak/keycloak:latest", "none"],
    ["quay.io/keycloak/keycloak@sha256:abc", "none"],
  ])("%s: %s", (image, support) => {
    expect(grantSupport(image)).toBe(support);
  });
});

describe("the Deployment patch", () => {
  const spec = (image: string) =>
    chainingPatchSpec({ image, realmHost: REALM_HOST, gatewayAddress: "10.96.0.7", caConfigMap: "ca" }) as any;

  it("resolves the realm's host to the gateway inside the pod, and trusts the gateway's CA", () => {
    const pod = spec("quay.io/keycloak/keycloak:26.7.3").template.spec;
    expect(pod.hostAliases).toEqual([{ ip: "10.96.0.7", hostnames: [REALM_HOST] }]);
    const [container] = pod.containers;
    expect(container.name).toBe("keycloak");
    const mount = container.volumeMounts[0];
    expect(pod.volumes).toEqual([{ name: mount.name, configMap: { name: "ca" } }]);
    expect(container.env).toEqual([{ name: "KC_TRUSTSTORE_PATHS", value: `${mount.mountPath}/ca.crt` }]);
    // The image is not the patch's: deleting the patch would leave the container without one.
    expect(container.image).toBeUndefined();
  });

  it("turns the grant's preview feature on for 26.5 and 26.6 only", () => {
    const features = (image: string) =>
      spec(image).template.spec.containers[0].env.filter((e: { name: string }) => e.name === "KC_FEATURES");
    expect(features("quay.io/keycloak/keycloak:26.6.1")).toEqual([
      { name: "KC_FEATURES", value: "jwt-authorization-grant" },
    ]);
    expect(features("quay.io/keycloak/keycloak:26.7.3")).toEqual([]);
  });
});

describe("the image script's access to the API server", () => {
  it("reads Kind's inline client certificate", () => {
    const access = kubeAccessOf(FAKE_KUBECONFIG, "k");
    expect(access.server).toBe("https://127.0.0.1:6443");
    expect(access.cert).toBe("CERT-DATA-FROM-KIND");
    expect(access.key).toBe("KEY-DATA-FROM-KIND");
  });

  it("refuses a kubeconfig it cannot use, naming the key and what it needs", () => {
    const exec = FAKE_KUBECONFIG.replace(/client-certificate-data.*\n.*client-key-data.*\n/, "exec: {command: aws}\n");
    expect(() => kubeAccessOf(exec, "the gateway cluster's kubeconfig")).toThrow(
      /the gateway cluster's kubeconfig: .*token or inline client certificate and key/,
    );
  });
});

describe("use case 3 in kind mode: the gateway's own Keycloak patched", async () => {
  const run = await runStack(crossDomainValues());

  it("patches the Deployment with the Gateway's address and a ConfigMap of its CA", () => {
    const patch = run.byName("keycloak-chaining-deployment");
    expect(patch.inputs.metadata).toMatchObject({ namespace: "keycloak", name: "keycloak" });
    expect(patch.inputs.spec.template.spec.hostAliases).toEqual([
      { ip: FAKE_GATEWAY_ADDRESS, hostnames: [REALM_HOST] },
    ]);
    const ca = run.byName("keycloak-chaining-gateway-ca");
    expect(ca.inputs.data).toEqual({ "ca.crt": FAKE_GATEWAY_CA });
    // Only the certificate: the Secret's private key goes nowhere.
    for (const r of run.resources) expect(plaintextPaths(r.wire, "S0VZ"), r.name).toEqual([]);
  });

  it("swaps the image by a command that puts the old one back on delete, its credentials secret", () => {
    const swap = run.byName("keycloak-chaining-image");
    expect(swap.inputs).toMatchObject({ create: IMAGE_SET, update: IMAGE_SET, delete: IMAGE_RESTORE });
    expect(swap.inputs.environment.KEYCLOAK_IMAGE).toBe("quay.io/keycloak/keycloak:26.7.3");
    expect(plaintextPaths(swap.wire, "KEY-DATA-FROM-KIND")).toEqual([]);
    expect(swap.dependencies).toContain(run.byName("keycloak-chaining-deployment").urn);
  });

  it("makes every Keycloak object wait for the patched Keycloak: the provider, the setup step, realm cluster-b", () => {
    // A dependency on a component is one on each of its children: the last is the image swap.
    const chaining = run.byName("keycloak-chaining-image").urn;
    expect(run.byName("keycloak").dependencies).toContain(chaining);
    expect(run.byName("oauth-token-exchange-setup").dependencies).toContain(chaining);
    expect(run.byName("realm-b").inputs.realm).toBe(DOMAIN_B.realm);
    expect(run.byName("domain-b-trust-idp").dependencies).toContain(run.byName("realm-b").urn);
  });
});

describe("inClusterKeycloak config", () => {
  const existing = { mode: "existing", kubeconfig: writeTemp(FAKE_KUBECONFIG) };

  it("is off on an existing cluster unless asked for, and then neither patch nor realm is made", async () => {
    const run = await runStack({ ...crossDomainValues(), cluster: existing });
    expect(run.resources.filter((r) => r.name.startsWith("keycloak-chaining") || r.name === "realm-b")).toEqual([]);
    const asked = await runStack({ ...crossDomainValues(), cluster: existing, inClusterKeycloak: { patch: true } });
    expect(asked.byName("keycloak-chaining-image").inputs.environment.KEYCLOAK_IMAGE).toContain(":26.7.3");
  });

  it("refuses an image without the grant, naming the key, the value and what is allowed", () => {
    expect(() =>
      parseStackConfig({
        values: { ...crossDomainValues(), inClusterKeycloak: { image: "quay.io/keycloak/keycloak:26.4" } },
        secretKeys: ["keycloak", "domains"],
      }),
    ).toThrow(/inClusterKeycloak\.image.*'quay\.io\/keycloak\/keycloak:26\.4'.*26\.5 or newer/s);
  });

  it("is read only by use case 3", () => {
    expect(() =>
      parseStackConfig({ values: { useCase: "no-auth", inClusterKeycloak: "yes" }, secretKeys: [] }),
    ).toThrow(/inClusterKeycloak/);
  });
});
