#!/usr/bin/env node
// `kubectl apply -k DIR` (or `kubectl apply -n NS -f FILE...`: `apply.mjs -n NS FILE...`) for the
// make stand-in, without kubectl: the resources a kustomization lists (plain manifests, no
// patches), or the given files, each server-side applied to the cluster of $KUBECONFIG
// (a token and CA kubeconfig, as testbed/apiserver/start.sh writes) by the field manager
// "mcp-gateway-makefile"; a namespace that does not exist yet is created first.
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const YAML = createRequire(join(root, "package.json"))("yaml");
const args = process.argv.slice(2);
const nsFlag = args.indexOf("-n");
const defaultNamespace = nsFlag >= 0 ? args.splice(nsFlag, 2)[1] : undefined;
const kubeconfig = YAML.parse(readFileSync(process.env.KUBECONFIG, "utf8"));
const cluster = kubeconfig.clusters[0].cluster;
const token = kubeconfig.users[0].user.token;
const ca = Buffer.from(cluster["certificate-authority-data"], "base64");

function call(method, path, body, contentType = "application/json") {
  return new Promise((ok, fail) => {
    const req = request(
      new URL(path, cluster.server),
      { method, ca, headers: { authorization: `Bearer ${token}`, "content-type": contentType } },
      (res) => {
        let data = "";
        res.on("data", (c) => (data += c));
        res.on("end", () => ok({ status: res.statusCode, body: data }));
      },
    );
    req.on("error", fail);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

// Resource path of an object from its apiVersion and kind, via API discovery.
async function pathOf(obj) {
  const gv = obj.apiVersion;
  const list = await call("GET", gv.includes("/") ? `/apis/${gv}` : `/api/${gv}`);
  if (list.status !== 200) throw new Error(`apiVersion ${gv} is not served (${list.status})`);
  const res = JSON.parse(list.body).resources.find((r) => r.kind === obj.kind && !r.name.includes("/"));
  if (!res) throw new Error(`kind ${obj.kind} is not served in ${gv}`);
  const base = gv.includes("/") ? `/apis/${gv}` : `/api/${gv}`;
  const ns = res.namespaced ? `/namespaces/${obj.metadata.namespace ?? "default"}` : "";
  return `${base}${ns}/${res.name}/${obj.metadata.name}`;
}

const files = args[0].endsWith(".yaml")
  ? args
  : YAML.parse(readFileSync(join(args[0], "kustomization.yaml"), "utf8")).resources.map((f) => join(args[0], f));
for (const file of files) {
  for (const doc of YAML.parseAllDocuments(readFileSync(file, "utf8"))) {
    const obj = doc.toJSON();
    if (!obj) continue;
    if (defaultNamespace && !obj.metadata.namespace) obj.metadata.namespace = defaultNamespace;
    const ns = obj.metadata.namespace;
    if (ns && (await call("GET", `/api/v1/namespaces/${ns}`)).status === 404) {
      await call("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
    }
    const path = await pathOf(obj);
    const res = await call(
      "PATCH",
      `${path}?fieldManager=mcp-gateway-makefile&force=true`,
      obj,
      "application/apply-patch+yaml",
    );
    if (res.status >= 300)
      throw new Error(`apply ${obj.kind} ${ns ?? ""}/${obj.metadata.name}: ${res.status} ${res.body}`);
    process.stderr.write(`${obj.kind.toLowerCase()}/${obj.metadata.name} serverside-applied\n`);
  }
}
