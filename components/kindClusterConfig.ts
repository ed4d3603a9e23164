import { stringify } from "yaml";
import { stateDirShell } from "./hostState";

/** Where the node holds the Keycloak CA its API server verifies the issuer with (as the gateway's config/kind/cluster.yaml). */
export const NODE_KEYCLOAK_CA = "/etc/kubernetes/pki/keycloak-ca.crt";
/** The files the create step writes into the cluster's host-state folder. */
export const KIND_CONFIG_FILE = "kind-config.yaml";
export const KEYCLOAK_CA_FILE = "keycloak-ca.crt";

export interface KindOidcConfigArgs {
  /** `<keycloak.url>/realms/<realm>`: the realm whose tokens the API server takes. */
  issuerUrl: string;
  /** The audience those tokens must carry: the Keycloak client id of the cluster's MCP server. */
  clientId: string;
  /** Absolute path on the host of the CA file of Keycloak's certificate, mounted into the node. */
  caHostPath: string;
}

/**
 * A Kind cluster config whose API server trusts one realm, as the MCP Gateway's
 * config/kind/cluster.yaml (at guide-fd2e9da) makes its own trust realm `mcp`: the same
 * ClusterConfiguration patch (issuer, client id, username claim `preferred_username` with no
 * username prefix flag, so users are `<issuer>#<username>`; groups claim `groups`; the CA file), and
 * the same mount of the CA into the node. Without the gateway's port mappings (8001, 8002 are the
 * gateway cluster's) and its ingress label.
 */
export function kindOidcConfig(a: KindOidcConfigArgs): string {
  const clusterConfiguration = stringify({
    kind: "ClusterConfiguration",
    apiServer: {
      extraArgs: {
        "oidc-issuer-url": a.issuerUrl,
        "oidc-client-id": a.clientId,
        "oidc-username-claim": "preferred_username",
        "oidc-groups-claim": "groups",
        "oidc-ca-file": NODE_KEYCLOAK_CA,
      },
    },
  });
  return stringify({
    kind: "Cluster",
    apiVersion: "kind.x-k8s.io/v1alpha4",
    nodes: [
      {
        role: "control-plane",
        extraMounts: [{ hostPath: a.caHostPath, containerPath: NODE_KEYCLOAK_CA, readOnly: true }],
        kubeadmConfigPatches: [clusterConfiguration],
      },
    ],
  });
}

/** Single-quoted for sh. */
const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Creates the Kind cluster: writes the CA and the config into the host-state folder, runs
 * `kind create cluster --name N --config FILE`, then (MCP_NODE_HOSTS set) adds that line to the
 * node's /etc/hosts, as the gateway's build/keycloak.mk does for its own node, so the API server
 * finds Keycloak's host name at the gateway. A cluster of that name that exists already is refused
 * by kind itself. When the hosts line cannot be added, the new cluster is deleted again.
 */
export const kindCreateScript = (stateKey: string) => `# kind create cluster, with its API server trusting one realm
set -eu
MCP_STATE_KEY=${shellQuote(stateKey)}
${stateDirShell}trap 'rm -rf "$lock"' EXIT
printf '%s\\n' "$MCP_KEYCLOAK_CA" > "$state_dir/${KEYCLOAK_CA_FILE}"
printf '%s\\n' "$MCP_KIND_CONFIG" > "$state_dir/${KIND_CONFIG_FILE}"
kind create cluster --name "$KIND_CLUSTER_NAME" --config "$state_dir/${KIND_CONFIG_FILE}" >&2
if [ -n "\${MCP_NODE_HOSTS:-}" ]; then
  runtime=docker; command -v docker >/dev/null 2>&1 || runtime=podman
  if ! "$runtime" exec "$KIND_CLUSTER_NAME-control-plane" sh -c 'grep -qxF "$1" /etc/hosts || echo "$1" >> /etc/hosts' sh "$MCP_NODE_HOSTS"; then
    echo "could not add '$MCP_NODE_HOSTS' to the node's /etc/hosts: deleting Kind cluster $KIND_CLUSTER_NAME again" >&2
    kind delete cluster --name "$KIND_CLUSTER_NAME" >&2 || true
    exit 1
  fi
fi
echo "\${MCP_CLUSTER_GENERATION:-0}" > "$state_dir/generation"
echo created > "$state_dir/made"
`;

/** Deletes the Kind cluster (none there is no error, as with kind) and what the create wrote. */
export const kindDeleteScript = (stateKey: string) => `# kind delete cluster
set -eu
MCP_STATE_KEY=${shellQuote(stateKey)}
${stateDirShell}trap 'rm -rf "$lock"' EXIT
kind delete cluster --name "$KIND_CLUSTER_NAME" >&2
rm -f "$state_dir/made" "$state_dir/generation" "$state_dir/${KIND_CONFIG_FILE}" "$state_dir/${KEYCLOAK_CA_FILE}"
`;

/** Kind's kubeconfig of the cluster (its admin's client key: a secret output). */
export const KIND_GET_KUBECONFIG = 'kind get kubeconfig --name "$KIND_CLUSTER_NAME"';
