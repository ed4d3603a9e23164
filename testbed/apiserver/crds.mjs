#!/usr/bin/env node
// Installs into the loopback apiserver of start.sh what the MCP Gateway's setup would have left in
// a cluster before the stack runs: the Gateway API standard CRDs, Istio's ServiceEntry CRD, the
// namespaces gateway-system and mcp-test, and the Gateway gateway-system/mcp-gateway with its two
// listeners, server-side applied by the field manager "mcp-gateway-makefile".
// Run through testbed/apiserver/crds.sh, which passes the apiserver's env file.
//
// The CRDs come from their Go modules (`go mod download`: proxy + checksum database), not from a
// copy in this repo. The MCP Gateway's own CRDs (MCPServer, MCPVirtualServer: every CRD in
// config/crd/*.yaml) come from the repository of testbed/gateway/checkout.sh at the tag
// MCP_GATEWAY_CRD_REF (default guide-fd2e9da), since no module proxy serves the gateway. The CRDs
// fetched by testbed/crds/fetch-crds.sh into .cache/crds/ (AuthPolicy) are applied too when present.
//
// --check: afterwards, prove server-side apply merges listeners by name: a second manager adds a
// listener, the two others stay; it then applies an empty list and only the two others remain.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const YAML = createRequire(join(root, "package.json"))("yaml"); // the project's own dependency
const GATEWAY_API = process.env.MCP_GATEWAY_API_VERSION || "v1.3.0";
const ISTIO_API = process.env.MCP_ISTIO_API_VERSION || "v1.31.4";
const GATEWAY_REF = process.env.MCP_GATEWAY_CRD_REF || "guide-fd2e9da";
const log = (m) => process.stderr.write(`apiserver-crds: ${m}\n`);
const fail = (m) => {
  log(`ERROR: ${m}`);
  process.exit(1);
};

// The apiserver: env file written by start.sh (KEY=value lines).
const env = Object.fromEntries(
  readFileSync(process.argv[2], "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
);
const ca = readFileSync(env.APISERVER_CA);

function api(method, path, body, type = "application/json") {
  return new Promise((ok, ko) => {
    const req = request(
      new URL(path, env.APISERVER_URL),
      {
        method,
        ca,
        headers: { Authorization: `Bearer ${env.APISERVER_TOKEN}`, "Content-Type": type, Accept: "application/json" },
      },
      (res) => {
        let data = "";
        res.on("data", (c) => (data += c));
        res.on("end", () => ok({ status: res.statusCode, body: data ? JSON.parse(data) : {} }));
      },
    );
    req.on("error", ko);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

// Server-side apply (JSON is YAML, so the apply content type takes it); fails with the apiserver's message.
async function apply(path, obj, manager, force = true) {
  const r = await api(
    "PATCH",
    `${path}?fieldManager=${manager}${force ? "&force=true" : ""}`,
    obj,
    "application/apply-patch+yaml",
  );
  if (r.status >= 300) fail(`apply ${obj.kind} ${obj.metadata.name}: HTTP ${r.status}: ${r.body.message}`);
  return r.body;
}

// Module dir in the module cache, fetched by the go command when missing.
function moduleDir(mod, version) {
  try {
    const out = execFileSync("go", ["mod", "download", "-json", `${mod}@${version}`], {
      cwd: tmpdir(),
      encoding: "utf8",
    });
    return JSON.parse(out).Dir;
  } catch (e) {
    fail(
      `go mod download ${mod}@${version} failed: ${(e.stdout || e.message).trim()}\n  -> pick a served version: go list -m -versions ${mod}`,
    );
  }
}
const crdsIn = (text) =>
  YAML.parseAllDocuments(text)
    .map((d) => d.toJS())
    .filter((d) => d?.kind === "CustomResourceDefinition");
const docs = (file) => crdsIn(readFileSync(file, "utf8"));

// The MCP Gateway's CRDs: config/crd/*.yaml of its repository (testbed/gateway/checkout.sh) at GATEWAY_REF.
function gatewayCrds() {
  let repo;
  try {
    repo = execFileSync("bash", [join(root, "testbed/gateway/checkout.sh")], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    }).trim();
  } catch (e) {
    fail(`testbed/gateway/checkout.sh failed: ${e.message}`);
  }
  const git = (...args) => execFileSync("git", ["-C", repo, ...args], { encoding: "utf8", maxBuffer: 64 << 20 });
  try {
    return git("ls-tree", "--name-only", `${GATEWAY_REF}:config/crd`)
      .split("\n")
      .filter((f) => f.endsWith(".yaml"))
      .flatMap((f) => crdsIn(git("show", `${GATEWAY_REF}:config/crd/${f}`)));
  } catch (e) {
    fail(
      `reading config/crd at ${GATEWAY_REF} in ${repo}: ${e.message} (tags: guide-397bf8d guide-fd2e9da main-1eeb671 kuadrant-v0.9.0)`,
    );
  }
}

const gwDir = join(moduleDir("sigs.k8s.io/gateway-api", GATEWAY_API), "config/crd/standard");
const crds = readdirSync(gwDir)
  .filter((f) => f.endsWith(".yaml"))
  .flatMap((f) => docs(join(gwDir, f)));
const istio = docs(join(moduleDir("istio.io/api", ISTIO_API), "kubernetes/customresourcedefinitions.gen.yaml"));
// ServiceEntry for the stack; EnvoyFilter for the Kuadrant gateway's controller, which owns one.
const ISTIO_CRDS = ["serviceentries.networking.istio.io", "envoyfilters.networking.istio.io"];
crds.push(...istio.filter((c) => ISTIO_CRDS.includes(c.metadata.name)));
crds.push(...gatewayCrds());
const cached = join(root, ".cache/crds");
if (existsSync(cached))
  crds.push(
    ...readdirSync(cached)
      .filter((f) => f.endsWith(".yaml"))
      .flatMap((f) => docs(join(cached, f)))
      // MCPServer is there too (same file, pinned sha256): apply each CRD once.
      .filter((c) => !crds.some((x) => x.metadata.name === c.metadata.name)),
  );

const t0 = Date.now();
const CRD = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
for (const c of crds) await apply(`${CRD}/${c.metadata.name}`, c, "mcp-apiserver-crds");
// Established = its REST endpoints are served; until then creating a Gateway would 404.
for (const c of crds) {
  for (let i = 0; ; i++) {
    const { body } = await api("GET", `${CRD}/${c.metadata.name}`);
    if (body.status?.conditions?.some((k) => k.type === "Established" && k.status === "True")) break;
    if (i > 300) fail(`CRD ${c.metadata.name} not Established after 30s: ${JSON.stringify(body.status?.conditions)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
log(`${crds.length} CRDs Established in ${Date.now() - t0} ms: ${crds.map((c) => c.metadata.name).join(", ")}`);

for (const ns of ["gateway-system", "mcp-test"])
  await apply(
    `/api/v1/namespaces/${ns}`,
    { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } },
    "mcp-gateway-makefile",
  );

// The Gateway as the MCP Gateway's make targets leave it: Istio's class, two HTTP listeners.
const GW = "/apis/gateway.networking.k8s.io/v1/namespaces/gateway-system/gateways/mcp-gateway";
const listener = (name, hostname) => ({
  name,
  hostname,
  port: 8080,
  protocol: "HTTP",
  allowedRoutes: { namespaces: { from: "All" } },
});
const gateway = (spec) => ({
  apiVersion: "gateway.networking.k8s.io/v1",
  kind: "Gateway",
  metadata: { name: "mcp-gateway", namespace: "gateway-system" },
  spec,
});
const makefileListeners = [listener("http", "*.mcp.local"), listener("mcp", "mcp.127-0-0-1.sslip.io")];
await apply(GW, gateway({ gatewayClassName: "istio", listeners: makefileListeners }), "mcp-gateway-makefile");
log("namespaces gateway-system, mcp-test and Gateway gateway-system/mcp-gateway (listeners http, mcp) applied");

if (process.argv.includes("--check")) {
  const names = (gw) => gw.spec.listeners.map((l) => l.name).join(",");
  // Not forced: a conflict with mcp-gateway-makefile would be an error, as it is for the stack.
  // The manager "test" applies only spec.listeners, as the stack's GatewayListener patch does.
  const added = await apply(
    GW,
    gateway({ listeners: [listener("kubernetes-mcp", "kubernetes-mcp.mcp.local")] }),
    "test",
    false,
  );
  if (names(added) !== "http,mcp,kubernetes-mcp") fail(`after adding kubernetes-mcp, listeners are ${names(added)}`);
  const removed = await apply(GW, gateway({ listeners: [] }), "test", false);
  if (names(removed) !== "http,mcp") fail(`after removing kubernetes-mcp, listeners are ${names(removed)}`);
  log(
    `check passed: SSA by manager "test" added kubernetes-mcp (listeners ${names(added)}) and removed it (listeners ${names(removed)})`,
  );
}
