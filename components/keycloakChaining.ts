import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { gatewayAddress, gatewayKeycloakCa } from "./gatewayReads";

/**
 * The Keycloak that the gateway's `make local-env-setup` deploys (config/keycloak/deployment.yaml):
 * its Deployment and its container.
 */
export const IN_CLUSTER_KEYCLOAK = {
  namespace: "keycloak",
  deployment: "keycloak",
  container: "keycloak",
} as const;

/** The image the stack gives that Keycloak by default: the JWT authorization grant is on from 26.7. */
export const DEFAULT_CHAINING_IMAGE = "quay.io/keycloak/keycloak:26.7.3";

/** The grant's feature flag: a preview feature in 26.5 and 26.6, on by default from 26.7. */
export const GRANT_FEATURE = "jwt-authorization-grant";

/** Keycloak's version from an image's tag (`…:26.7.3`, `…:26.6`), or undefined for another tag or a digest. */
export function imageVersion(image: string): { major: number; minor: number } | undefined {
  const m = /^[^\s@]+:(\d+)\.(\d+)(?:\.\d+)?$/.exec(image);
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : undefined;
}

/** What an image needs to chain: nothing, the feature flag, or it cannot (before 26.5, or no version tag). */
export function grantSupport(image: string): "default" | "feature" | "none" {
  const v = imageVersion(image);
  if (!v) return "none";
  const n = v.major * 1000 + v.minor;
  return n >= 26007 ? "default" : n >= 26005 ? "feature" : "none";
}

/** Where the container finds the gateway's CA (mounted from the stack's ConfigMap). */
const CA_DIR = "/opt/keycloak/conf/mcp-gateway-stack-ca";
const CA_VOLUME = "mcp-gateway-stack-ca";

/**
 * The fields the stack adds to the Deployment, by server-side apply (each merged by its key, so
 * deleting the patch removes exactly these): the realm's host name resolves to the gateway inside the
 * pod (as upstream's patch-hostaliases.json does for another Deployment), Keycloak's outgoing HTTPS
 * trusts the gateway's CA, and, on 26.5/26.6, the grant's feature. The image is not here: see ImageSwap.
 */
export function chainingPatchSpec(a: {
  image: string;
  realmHost: string;
  gatewayAddress: string;
  caConfigMap: string;
}): k8s.types.input.apps.v1.DeploymentSpecPatch {
  const env = [
    { name: "KC_TRUSTSTORE_PATHS", value: `${CA_DIR}/ca.crt` },
    ...(grantSupport(a.image) === "feature" ? [{ name: "KC_FEATURES", value: GRANT_FEATURE }] : []),
  ];
  return {
    template: {
      spec: {
        hostAliases: [{ ip: a.gatewayAddress, hostnames: [a.realmHost] }],
        containers: [
          {
            name: IN_CLUSTER_KEYCLOAK.container,
            env,
            volumeMounts: [{ name: CA_VOLUME, mountPath: CA_DIR, readOnly: true }],
          },
        ],
        volumes: [{ name: CA_VOLUME, configMap: { name: a.caConfigMap } }],
      },
    },
  };
}

/** How the image script reaches the API server: from a kubeconfig cut to one context. */
export interface KubeAccess {
  server: string;
  ca?: string;
  insecure?: boolean;
  token?: string;
  cert?: string;
  key?: string;
}

/** The API server and credentials of a one-context kubeconfig (token or client certificate). */
export function kubeAccessOf(kubeconfig: string, key: string): KubeAccess {
  type Doc = {
    clusters?: Array<{ cluster: Record<string, unknown> }>;
    users?: Array<{ user: Record<string, unknown> }>;
  };
  const doc = parse(kubeconfig) as Doc | null;
  const cluster = doc?.clusters?.[0]?.cluster ?? {};
  const user = doc?.users?.[0]?.user ?? {};
  const b64 = (v: unknown) => (typeof v === "string" ? Buffer.from(v, "base64").toString("utf8") : undefined);
  const access: KubeAccess = {
    server: String(cluster.server ?? ""),
    ca: b64(cluster["certificate-authority-data"]),
    insecure: cluster["insecure-skip-tls-verify"] === true,
    token: typeof user.token === "string" ? user.token : undefined,
    cert: b64(user["client-certificate-data"]),
    key: b64(user["client-key-data"]),
  };
  if (!access.server.startsWith("https://") || !(access.token || (access.cert && access.key))) {
    throw new Error(
      `${key}: patching the in-cluster Keycloak's image needs a kubeconfig with an https server and a token or inline client certificate and key (as Kind writes); exec plugins and file paths are not read`,
    );
  }
  return access;
}

/** components/keycloakChaining/image.mjs: sets (or restores) the container's image and waits for the rollout. */
export const imageScript = fs.readFileSync(path.join(__dirname, "keycloakChaining", "image.mjs"), "utf8");
export const IMAGE_SET = "KEYCLOAK_IMAGE_ACTION=set node --input-type=module";
export const IMAGE_RESTORE = "KEYCLOAK_IMAGE_ACTION=restore node --input-type=module";

export interface KeycloakChainingArgs {
  /** The gateway cluster's provider and kubeconfig (one context, a secret). */
  provider: k8s.Provider;
  kubeconfig: pulumi.Input<string>;
  /** Image with the JWT authorization grant (26.5 or newer). */
  image: string;
  /** The realm's host name (keycloak.url's), which must reach the gateway from inside the pod. */
  realmHost: string;
  /** The Gateway whose address the host name resolves to (its `status.addresses[0]`). */
  gateway: { namespace: string; name: string };
  /** What must exist first (kind mode: the cluster's setup step). */
  after?: pulumi.Resource[];
  /** Seconds to wait for Keycloak's rollout. */
  rolloutTimeoutSeconds?: number;
}

/**
 * Use case 3 on the gateway's own Keycloak: that pod, as deployed, runs a Keycloak without the JWT
 * authorization grant, and the realm's host name is its own loopback, so one realm cannot fetch the
 * other's keys. This makes it able to chain, and undoes it on destroy or when use case 3 is left:
 * - a ConfigMap with the gateway's CA (the certificate the `keycloak` listener serves);
 * - a Deployment patch: host alias to the gateway, truststore, feature flag (chainingPatchSpec);
 * - the image swap, with the image it replaced kept in an annotation and put back on delete (a
 *   server-side-apply patch that took the image over would, on delete, leave no image at all).
 * Every Keycloak object of the stack waits for this: the new pod starts from the realm import.
 */
export class KeycloakChaining extends pulumi.ComponentResource {
  /** What it read on the gateway's cluster: the CA of the `keycloak` listener's certificate, the Gateway's address. */
  public readonly gatewayCa: pulumi.Output<string>;
  public readonly gatewayAddress: pulumi.Output<string>;
  public readonly caConfigMap: k8s.core.v1.ConfigMap;
  public readonly patch: k8s.apps.v1.DeploymentPatch;
  public readonly imageSwap: command.local.Command;

  constructor(name: string, args: KeycloakChainingArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mcp-gateway-stack:keycloak:Chaining", name, {}, opts);
    const after = args.after ?? [];
    const onCluster = { parent: this, provider: args.provider, dependsOn: after };
    const kc = IN_CLUSTER_KEYCLOAK;
    this.gatewayCa = gatewayKeycloakCa(`${name}-gateway-cert`, onCluster);
    this.gatewayAddress = gatewayAddress(
      `${name}-gateway`,
      args.gateway,
      "the in-cluster Keycloak's host alias needs its address",
      onCluster,
    );
    this.caConfigMap = new k8s.core.v1.ConfigMap(
      `${name}-gateway-ca`,
      {
        metadata: { namespace: kc.namespace, name: "mcp-gateway-stack-gateway-ca" },
        data: { "ca.crt": this.gatewayCa },
      },
      onCluster,
    );
    this.patch = new k8s.apps.v1.DeploymentPatch(
      `${name}-deployment`,
      {
        metadata: {
          namespace: kc.namespace,
          name: kc.deployment,
          // The image swap after it waits for the rollout that counts (one, not two).
          annotations: { "pulumi.com/skipAwait": "true" },
        },
        spec: this.gatewayAddress.apply((ip) =>
          chainingPatchSpec({
            image: args.image,
            realmHost: args.realmHost,
            gatewayAddress: ip,
            caConfigMap: "mcp-gateway-stack-gateway-ca",
          }),
        ),
      },
      { ...onCluster, dependsOn: [...after, this.caConfigMap] },
    );
    this.imageSwap = new command.local.Command(
      `${name}-image`,
      {
        create: IMAGE_SET,
        update: IMAGE_SET,
        delete: IMAGE_RESTORE,
        stdin: imageScript,
        environment: {
          KUBE_ACCESS: pulumi.secret(
            pulumi
              .output(args.kubeconfig)
              .apply((k) => JSON.stringify(kubeAccessOf(k, "the gateway cluster's kubeconfig"))),
          ),
          KEYCLOAK_NAMESPACE: kc.namespace,
          KEYCLOAK_DEPLOYMENT: kc.deployment,
          KEYCLOAK_CONTAINER: kc.container,
          KEYCLOAK_IMAGE: args.image,
          ROLLOUT_TIMEOUT_SECONDS: String(args.rolloutTimeoutSeconds ?? 600),
        },
        logging: "stderr",
      },
      { parent: this, dependsOn: [...after, this.patch] },
    );
    this.registerOutputs({});
  }
}
