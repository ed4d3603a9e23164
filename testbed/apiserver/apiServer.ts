/**
 * A loopback kube-apiserver (testbed/apiserver), optionally with the OIDC flags of a gateway tag's
 * Kind config pointed at the test bed's Keycloak.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { gatewayFile, type GatewayTag } from "../gateway/checkout";
import { Api, dropIdleSockets } from "../https";
import type { Keycloak } from "../keycloak/keycloak";
import { exportsOf, runScript } from "../processes";

export interface ApiServer {
  dir: string;
  url: string;
  /** OIDC mode: the issuer it trusts and the client id (audience) it wants. */
  oidcIssuer?: string;
  oidcClientId?: string;
  /** Path of an admin kubeconfig (static token, system:masters). */
  kubeconfig: string;
  token: string;
  /** Path of the CA that signed the API server's certificate (a CA Keycloak's does not verify with). */
  ca: string;
  /** The admin client of the API server. */
  kube: Api;
  /**
   * Stops kube-apiserver and starts it again in place (testbed/apiserver/restart.sh): same URL,
   * certs and token; etcd keeps running, so every object survives. Returns when /readyz answers.
   */
  restart(): void;
  stop(): void;
}

/** The OIDC flags of an API server: the Kind config's at `tag`, trusting `keycloak`'s CA. */
export interface ApiServerOidc {
  keycloak: Keycloak;
  tag: GatewayTag;
  /** The realm it trusts (default the gateway's realm, `keycloak.issuer`): another cluster's domain. */
  issuer?: string;
  /** `--oidc-client-id`, the audience its tokens need (default the Kind config's, mcp-test/kubernetes-mcp). */
  clientId?: string;
}

/**
 * kube-apiserver + etcd (+ garbage collector and namespace controllers) on loopback, with what the
 * gateway's setup leaves (CRDs, namespaces, the Gateway with two listeners of its own). With
 * `oidc`: the OIDC flags of the Kind config at `oidc.tag`, issuer and CA of the given Keycloak (the
 * issuer and client id replaceable: a second cluster trusting its own realm). Each API server has its
 * own dir and is stopped by it, so several run at once.
 */
export function startApiServer(
  oidc?: ApiServerOidc,
  /** The gateway tag whose config/crd/*.yaml to install (testbed/apiserver/crds.mjs; default guide-fd2e9da). */
  gatewayCrds?: GatewayTag,
): ApiServer {
  const env: Record<string, string> = oidc
    ? {
        MCP_APISERVER_OIDC_ISSUER: oidc.issuer ?? oidc.keycloak.issuer,
        MCP_APISERVER_OIDC_CA: oidc.keycloak.ca,
        MCP_APISERVER_KIND_CONFIG: gatewayFile(oidc.tag, "config/kind/cluster.yaml"),
        ...(oidc.clientId ? { MCP_APISERVER_OIDC_CLIENT_ID: oidc.clientId } : {}),
      }
    : {};
  const v = exportsOf(runScript("testbed/apiserver/start.sh", [], env));
  try {
    // Kuadrant's controller writes HTTPRoute rule names: Gateway API v1.6.1, as its go.mod.
    const crdEnv: Record<string, string> = gatewayCrds ? { MCP_GATEWAY_CRD_REF: gatewayCrds } : {};
    if (gatewayCrds === "kuadrant-v0.9.0") crdEnv.MCP_GATEWAY_API_VERSION = "v1.6.1";
    runScript("testbed/apiserver/crds.sh", [v.APISERVER_DIR], crdEnv);
  } catch (err) {
    runScript("testbed/apiserver/stop.sh", [v.APISERVER_DIR]);
    throw err;
  }
  return apiServerAt(v.APISERVER_DIR);
}

/** An API server whose env file (testbed/apiserver/start.sh) is in `dir`. */
export function apiServerAt(dir: string): ApiServer {
  const v = Object.fromEntries(
    fs
      .readFileSync(path.join(dir, "env"), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
  return {
    dir,
    url: v.APISERVER_URL,
    oidcIssuer: v.APISERVER_OIDC_ISSUER,
    oidcClientId: v.APISERVER_OIDC_CLIENT_ID,
    kubeconfig: v.KUBECONFIG,
    token: v.APISERVER_TOKEN,
    ca: v.APISERVER_CA,
    kube: new Api(v.APISERVER_URL, fs.readFileSync(v.APISERVER_CA), `Bearer ${v.APISERVER_TOKEN}`),
    restart: () => {
      runScript("testbed/apiserver/restart.sh", [dir]);
      dropIdleSockets(v.APISERVER_URL);
    },
    stop: () => void runScript("testbed/apiserver/stop.sh", [dir]),
  };
}

/** The API server's SelfSubjectReview for a bearer token: who it takes the caller for. */
export function selfSubjectReview(apiServer: ApiServer, token: string) {
  return apiServer.kube.withToken(token).request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", {
    apiVersion: "authentication.k8s.io/v1",
    kind: "SelfSubjectReview",
  });
}

/** Waits (up to 60 s) until `apiServer` authenticates `token`: it fetches Keycloak's keys in the background after it starts. */
export async function untilAccepted(apiServer: ApiServer, token: string): Promise<void> {
  for (let i = 0; i < 60 && (await selfSubjectReview(apiServer, token)).status === 401; i++)
    await new Promise((r) => setTimeout(r, 1000));
}
