import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

/** Where cert-manager keeps the certificate the gateway's `keycloak` listener serves (build/keycloak.mk). */
export const GATEWAY_KEYCLOAK_CERT = { namespace: "gateway-system", name: "mcp-gateway-keycloak-cert", key: "ca.crt" };

/**
 * The CA of the gateway's Keycloak certificate (PEM), read from cert-manager's Secret: what
 * build/keycloak.mk extracts to out/certs/ca.crt. A CA certificate is public: it is taken out of
 * the Secret's data, which is secret as a whole (the private key stays there).
 */
export function gatewayKeycloakCa(name: string, opts: pulumi.CustomResourceOptions): pulumi.Output<string> {
  const c = GATEWAY_KEYCLOAK_CERT;
  const secret = k8s.core.v1.Secret.get(name, `${c.namespace}/${c.name}`, opts);
  return pulumi.unsecret(secret.data).apply((d) => Buffer.from(d?.[c.key] ?? "", "base64").toString("utf8"));
}

type GatewayStatus = { addresses?: Array<{ value?: string }> };

/**
 * The Gateway's address (`status.addresses[0]`, which Istio writes), read from the cluster. `needs`
 * says what waits for it, in the error a Gateway without an address yet gets.
 */
export function gatewayAddress(
  name: string,
  gateway: { namespace: string; name: string },
  needs: string,
  opts: pulumi.CustomResourceOptions,
): pulumi.Output<string> {
  // `status` among the args so that the read hands it back as an output.
  const read = new k8s.apiextensions.CustomResource(
    name,
    { apiVersion: "gateway.networking.k8s.io/v1", kind: "Gateway", status: undefined },
    { ...opts, id: `${gateway.namespace}/${gateway.name}` },
  );
  return (read as unknown as { status: pulumi.Output<GatewayStatus | undefined> }).status.apply((s) => {
    const address = s?.addresses?.[0]?.value;
    if (!address) {
      throw new Error(
        `Gateway ${gateway.namespace}/${gateway.name} has no status.addresses yet: ${needs}; run 'pulumi up' again once 'kubectl get gateway -n ${gateway.namespace} ${gateway.name}' shows one`,
      );
    }
    return address;
  });
}
