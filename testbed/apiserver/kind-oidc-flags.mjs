#!/usr/bin/env node
// Prints, one per line, the kube-apiserver OIDC flags of a Kind cluster config (the MCP Gateway's
// config/kind/cluster.yaml): the oidc-* extraArgs of its kubeadm ClusterConfiguration patch, with
// the issuer URL and the CA file replaced by the loopback test bed's own, and optionally the client
// id (another cluster of use case 3, whose tokens carry its own server's audience). Used by start.sh.
//
//   node kind-oidc-flags.mjs CLUSTER_YAML ISSUER_URL CA_FILE [CLIENT_ID]
//   --oidc-issuer-url=ISSUER_URL
//   --oidc-client-id=mcp-test/kubernetes-mcp
//   ...
//
// Both extraArgs forms are read: a map (kubeadm v1beta3, what the gateway uses) and a list of
// {name, value} (v1beta4). Patches at cluster level and on control-plane nodes count.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const YAML = createRequire(join(root, "package.json"))("yaml"); // the project's own dependency
const [file, issuer, caFile, clientId] = process.argv.slice(2);
const fail = (m) => {
  process.stderr.write(`kind-oidc-flags: ERROR: ${m}\n`);
  process.exit(1);
};
if (!file || !issuer || !caFile) fail("usage: kind-oidc-flags.mjs CLUSTER_YAML ISSUER_URL CA_FILE [CLIENT_ID]");

let cluster;
try {
  cluster = YAML.parse(readFileSync(file, "utf8"));
} catch (e) {
  fail(`cannot read ${file}: ${e.message}`);
}
if (cluster?.kind !== "Cluster") fail(`${file} is not a Kind Cluster config (kind: ${cluster?.kind})`);

const patches = [
  ...(cluster.kubeadmConfigPatches ?? []),
  ...(cluster.nodes ?? [])
    .filter((n) => (n.role ?? "control-plane") === "control-plane")
    .flatMap((n) => n.kubeadmConfigPatches ?? []),
];
const args = {};
for (const text of patches) {
  const patch = YAML.parse(text);
  if (patch?.kind !== "ClusterConfiguration") continue;
  const extra = patch.apiServer?.extraArgs ?? {};
  const pairs = Array.isArray(extra) ? extra.map((a) => [a.name, a.value]) : Object.entries(extra);
  for (const [name, value] of pairs) if (String(name).startsWith("oidc-")) args[name] = String(value);
}
for (const need of ["oidc-issuer-url", "oidc-client-id"]) {
  if (!args[need]) fail(`${file}: no apiServer.extraArgs ${need} in a ClusterConfiguration patch`);
}
args["oidc-issuer-url"] = issuer; // was the Kind cluster's Keycloak (https://keycloak.127-0-0-1.sslip.io:8002/realms/mcp)
args["oidc-ca-file"] = caFile; // was the path inside the Kind node
if (clientId) args["oidc-client-id"] = clientId; // was mcp-test/kubernetes-mcp
for (const [name, value] of Object.entries(args)) console.log(`--${name}=${value}`);
