/**
 * The named objects the stack creates on the gateway's cluster, and the preflight's rule for one
 * that already exists there. The pinned Kubernetes provider (4.25.0) creates by server-side
 * apply, which silently takes over an object of the same name, and `destroy` then deletes it; so
 * an object that no Pulumi program applied (the user's own, or upstream's) is refused instead.
 * One a Pulumi program applied is this stack's (a second run, or a run that was killed).
 */
import * as fs from "node:fs";
import * as https from "node:https";
import { parse } from "yaml";
import { kubeconfigForContext } from "../components/gatewayCluster";
import { RELEASE_FACTS } from "../components/gatewayRelease";
import { clusterRoleBindingName } from "../components/oidcClusterAccess";
import { PROJECT, type StackConfig } from "./config";

export interface ClusterObject {
  /** `Kind namespace/name`, as a message names it. */
  what: string;
  /** The config key that names it, and its value. */
  key: string;
  value: string;
  /** Its path on the API server. */
  path: string;
}

/** What a GET of an object found: nothing, its field managers, or why it could not be asked. */
export type ObjectFound = { found: false } | { found: true; managers: string[] } | { error: string };

/** The field manager the Kubernetes provider applies with: `pulumi-kubernetes-<random>` per resource. */
const PULUMI_MANAGER = /^pulumi-kubernetes(-|$)/;

export function stackObjects(cfg: StackConfig): ClusterObject[] {
  const m = cfg.mcpServer;
  const ns = m.namespace;
  const registration = RELEASE_FACTS[cfg.gateway.release].registration;
  const [group, version] = registration.apiVersion.split("/");
  const objects: ClusterObject[] = [
    {
      what: `Service ${ns}/${m.serviceName}`,
      key: "mcpServer.serviceName",
      value: m.serviceName,
      path: `/api/v1/namespaces/${ns}/services/${m.serviceName}`,
    },
    {
      what: `HTTPRoute ${ns}/${m.routeName}`,
      key: "mcpServer.routeName",
      value: m.routeName,
      path: `/apis/gateway.networking.k8s.io/v1/namespaces/${ns}/httproutes/${m.routeName}`,
    },
    {
      what: `ServiceEntry ${ns}/${m.routeName}`,
      key: "mcpServer.routeName",
      value: m.routeName,
      path: `/apis/networking.istio.io/v1beta1/namespaces/${ns}/serviceentries/${m.routeName}`,
    },
    {
      what: `${registration.kind} ${ns}/${m.serverName}`,
      key: "mcpServer.serverName",
      value: m.serverName,
      path: `/apis/${group}/${version}/namespaces/${ns}/${registration.kind.toLowerCase()}s/${m.serverName}`,
    },
  ];
  if (cfg.useCase === "no-auth") return objects;
  const binding = clusterRoleBindingName(cfg.keycloak.username, cfg.oidc.clusterRole);
  return [
    ...objects,
    {
      what: `AuthPolicy ${ns}/${m.routeName}-auth-policy`,
      key: "mcpServer.routeName",
      value: m.routeName,
      path: `/apis/kuadrant.io/v1/namespaces/${ns}/authpolicies/${m.routeName}-auth-policy`,
    },
    {
      what: `ClusterRoleBinding ${binding}`,
      key: "oidc.clusterRole",
      value: cfg.oidc.clusterRole,
      path: `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${binding}`,
    },
  ];
}

/** The problem with an object found on the cluster, if no Pulumi program applied it. */
export function foreignObjectProblem(object: ClusterObject, found: ObjectFound): string | undefined {
  if (!("found" in found) || !found.found || found.managers.some((m) => PULUMI_MANAGER.test(m))) return undefined;
  const managers = found.managers.join(", ") || "none";
  return `${PROJECT}:${object.key} = '${object.value}': ${object.what} already exists on the cluster and no Pulumi program applied it (its field managers: ${managers}); this stack would take it over and delete it on destroy. Set ${object.key} to another value, or delete that object first if it is a leftover`;
}

interface KubeconfigDoc {
  clusters?: Array<{ cluster?: Record<string, unknown> }>;
  users?: Array<{ user?: Record<string, unknown> }>;
}

/** A file's contents, or base64 `<key>-data` decoded: the two ways a kubeconfig gives a PEM. */
function pem(section: Record<string, unknown> | undefined, key: string): Buffer | undefined {
  const data = section?.[`${key}-data`];
  if (typeof data === "string") return Buffer.from(data, "base64");
  const file = section?.[key];
  return typeof file === "string" ? fs.readFileSync(file) : undefined;
}

/**
 * GETs one object with the kubeconfig's own credentials (token or client certificate). Others
 * (exec plugins, auth providers) are not run by the preflight: it says so and checks nothing.
 */
export function getClusterObject(kubeconfig: string, context: string | undefined, path: string): Promise<ObjectFound> {
  let doc: KubeconfigDoc;
  try {
    doc = parse(kubeconfigForContext(kubeconfig, context)) as KubeconfigDoc;
  } catch (err) {
    return Promise.resolve({ error: (err as Error).message });
  }
  const cluster = doc.clusters?.[0]?.cluster;
  const user = doc.users?.[0]?.user ?? {};
  const server = cluster?.server;
  if (typeof server !== "string") return Promise.resolve({ error: "its context names no server" });
  if (typeof user.token !== "string" && !pem(user, "client-certificate"))
    return Promise.resolve({ error: "its user has neither a token nor a client certificate" });
  return new Promise((resolve) => {
    const req = https.request(
      new URL(path, server),
      {
        ca: pem(cluster, "certificate-authority"),
        rejectUnauthorized: cluster?.["insecure-skip-tls-verify"] !== true,
        cert: pem(user, "client-certificate"),
        key: pem(user, "client-key"),
        headers: typeof user.token === "string" ? { authorization: `Bearer ${user.token}` } : {},
        timeout: 10_000,
      },
      (res) => {
        let body = "";
        res.on("data", (c) => (body += c));
        res.on("end", () => {
          if (res.statusCode === 404) return resolve({ found: false });
          if (res.statusCode !== 200) return resolve({ error: `the API server answered HTTP ${res.statusCode}` });
          const meta = (JSON.parse(body) as { metadata?: { managedFields?: Array<{ manager?: string }> } }).metadata;
          resolve({ found: true, managers: (meta?.managedFields ?? []).map((f) => f.manager ?? "") });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("no answer within 10 s")));
    req.on("error", (err) => resolve({ error: err.message }));
    req.end();
  });
}
