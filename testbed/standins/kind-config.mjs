#!/usr/bin/env node
// For the kind stand-in's `create cluster --config FILE`: reads the OIDC settings of a Kind cluster
// config as the real node would get them, and prints them as shell assignments:
//   issuer=...     --oidc-issuer-url of the ClusterConfiguration patch
//   client_id=...  --oidc-client-id
//   ca=...         the host file mounted (extraMounts) where --oidc-ca-file points inside the node
// The other oidc-* flags (claims) start.sh takes from the same file (MCP_APISERVER_KIND_CONFIG).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const YAML = createRequire(join(root, "package.json"))("yaml"); // the project's own dependency
const fail = (m) => {
  process.stderr.write(`kind stand-in: ERROR: ${m}\n`);
  process.exit(1);
};
const [file] = process.argv.slice(2);
if (!file) fail("usage: kind-config.mjs CLUSTER_YAML");
const cluster = YAML.parse(readFileSync(file, "utf8"));
if (cluster?.kind !== "Cluster") fail(`${file} is not a Kind Cluster config`);
const nodes = (cluster.nodes ?? []).filter((n) => (n.role ?? "control-plane") === "control-plane");
const args = {};
for (const text of [...(cluster.kubeadmConfigPatches ?? []), ...nodes.flatMap((n) => n.kubeadmConfigPatches ?? [])]) {
  const patch = YAML.parse(text);
  if (patch?.kind !== "ClusterConfiguration") continue;
  Object.assign(args, patch.apiServer?.extraArgs ?? {});
}
const caInNode = args["oidc-ca-file"];
const mount = nodes.flatMap((n) => n.extraMounts ?? []).find((m) => m.containerPath === caInNode);
if (!args["oidc-issuer-url"] || !args["oidc-client-id"]) fail(`${file}: no oidc-issuer-url and oidc-client-id`);
if (!mount) fail(`${file}: no extraMount puts a host file at the oidc-ca-file ${caInNode}`);
const q = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;
console.log(`issuer=${q(args["oidc-issuer-url"])}`);
console.log(`client_id=${q(args["oidc-client-id"])}`);
console.log(`ca=${q(mount.hostPath)}`);
