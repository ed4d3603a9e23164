#!/usr/bin/env node
// TypeScript types of the custom resources' specs, from the openAPIV3Schema of their CRDs: writes
// components/crds/<kind>.generated.ts (npm run crd-types), or with --check compares those files
// with what the CRDs give and exits 1 naming each stale one (npm run test:schemas runs the check).
//
//   node scripts/crd-types.mjs [--check] [--out DIR]
//
// Where the CRDs come from: MCPServer, MCPServerRegistration and AuthPolicy are those pinned in
// testbed/crds/pins.json (this runs testbed/crds/fetch-crds.sh, which puts them into .cache/crds/);
// Gateway, HTTPRoute and ServiceEntry are read from their Go modules at the versions the test
// bed's API server installs (testbed/apiserver/crds.mjs), through `go mod download` (the Go module
// proxy and checksum database; ~/go/pkg/mod). Offline once cached; needs node, go and `yaml`.
//
// How a schema becomes a type: an object with properties is an interface (one per field name and
// structure: AuthPolicy's rules, repeated under defaults and overrides, are declared once);
// a required field with a default is optional (the API server applies defaults before it
// validates); x-kubernetes-int-or-string is `number | string`, x-kubernetes-preserve-unknown-fields
// allows any field; an object with neither properties nor a map of values is `Record<string,
// never>` (the API server would drop any field given to it). Validation-only keywords (pattern,
// lengths, CEL rules, anyOf/oneOf constraints) are left to the schema tests. Only `spec` is
// typed: the stack never writes `status`; `nullable` is not carried (the stack never sends null).
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const check = args.includes("--check");
const outDir = args.includes("--out")
  ? path.resolve(args[args.indexOf("--out") + 1])
  : path.join(ROOT, "components/crds");
const cacheDir = path.resolve(process.env.CRD_CACHE_DIR || path.join(ROOT, ".cache/crds"));

/**
 * The kinds the stack declares and the served version it uses; each CRD is a pin of
 * testbed/crds/pins.json, or a file of a Go module (the module versions of testbed/apiserver/crds.mjs).
 */
const GATEWAY_API = { module: "sigs.k8s.io/gateway-api", version: "v1.3.0" };
const ISTIO_API = { module: "istio.io/api", version: "v1.31.4" };
const KINDS = [
  { file: "gateway", crd: "gateways.gateway.networking.k8s.io", version: "v1", from: GATEWAY_API },
  { file: "httpRoute", crd: "httproutes.gateway.networking.k8s.io", version: "v1", from: GATEWAY_API },
  { file: "serviceEntry", crd: "serviceentries.networking.istio.io", version: "v1beta1", from: ISTIO_API },
  { file: "mcpServer", crd: "mcpservers.mcp.kagenti.com", version: "v1alpha1" },
  { file: "mcpServerRegistration", crd: "mcpserverregistrations.mcp.kuadrant.io", version: "v1" },
  { file: "authPolicy", crd: "authpolicies.kuadrant.io", version: "v1" },
];
/** Where each module keeps its CRDs. */
const MODULE_FILES = {
  [GATEWAY_API.module]: (crd) => `config/crd/standard/gateway.networking.k8s.io_${crd.split(".")[0]}.yaml`,
  [ISTIO_API.module]: () => "kubernetes/customresourcedefinitions.gen.yaml",
};

// What makes two schemas the same type: validation-only keywords and descriptions do not count.
const TYPE_KEYWORDS = [
  "type",
  "enum",
  "items",
  "properties",
  "required",
  "additionalProperties",
  "x-kubernetes-int-or-string",
  "x-kubernetes-preserve-unknown-fields",
];

const pascal = (s) => s.replace(/(^|[-_.])(\w)/g, (_, __, c) => c.toUpperCase());
const singular = (s) =>
  s
    .replace(/ies$/, "y")
    .replace(/(ss|ch|sh|x)es$/, "$1")
    .replace(/([^s])s$/, "$1");
const key = (name) => (/^[A-Za-z_$][\w$]*$/.test(name) ? name : JSON.stringify(name));

/** The first sentence of a description, on one line. */
function summary(description) {
  if (!description) return "";
  const text = description.replace(/\s+/g, " ").trim();
  const end = text.search(/(?<!\b(e\.g|i\.e|etc|vs))\.(\s|$)/);
  return (end >= 0 ? text.slice(0, end + 1) : text).replace(/\*\//g, "*\\/");
}

/** The schema reduced to what shapes its type, as a string: equal strings, one interface. */
function shapeOf(schema) {
  const reduce = (s) => {
    if (Array.isArray(s)) return s.map(reduce);
    if (typeof s !== "object" || s === null) return s;
    const out = {};
    for (const k of TYPE_KEYWORDS) {
      if (s[k] === undefined) continue;
      if (k === "properties") {
        out.properties = Object.fromEntries(Object.entries(s.properties).map(([n, p]) => [n, reduce(p)]));
      } else out[k] = k === "required" ? requiredOf(s) : reduce(s[k]);
    }
    return out;
  };
  return JSON.stringify(reduce(schema));
}

/** Required fields, less those the API server defaults. */
const requiredOf = (s) => (s.required ?? []).filter((n) => s.properties?.[n]?.default === undefined).sort();

/** The path of an array's items or a map's values: the field's name in the singular (rules -> rule). */
const element = (segments) => [...segments.slice(0, -1), singular(segments.at(-1))];

/** [schema, path] of the schemas right inside this one. */
const inner = (schema, segments) => [
  ...Object.entries(schema.properties ?? {}).map(([prop, sub]) => [sub, [...segments, prop]]),
  ...[schema.items, schema.additionalProperties]
    .filter((sub) => typeof sub === "object" && sub !== null)
    .map((sub) => [sub, element(segments)]),
];

/** Renders one kind's spec schema: the declarations, root first. */
function renderSpec(kind, spec) {
  // One interface per field name and shape: AuthPolicy's `rules` under defaults and overrides
  // is the same as spec.rules, but a Secret reference named credentialRef is not caCertSecretRef.
  const idOf = (schema, segments) => `${segments.at(-1)} ${shapeOf(schema)}`;

  // Names, breadth first so the shallower schema gets the shorter name: kind + the shortest tail
  // of the path not taken yet (AuthPolicyWhen for spec.when, AuthPolicyAuthenticationWhen deeper).
  const names = new Map();
  const taken = new Set();
  for (const queue = [[spec, ["spec"]]]; queue.length;) {
    const [schema, segments] = queue.shift();
    const id = idOf(schema, segments);
    if (schema.properties && names.has(id)) continue;
    if (schema.properties) {
      let n = 1;
      const tail = () => kind + segments.slice(-n).map(pascal).join("");
      while (taken.has(tail()) && n < segments.length) n++;
      let name = tail();
      for (let i = 2; taken.has(name); i++) name = `${tail()}${i}`;
      names.set(id, name);
      taken.add(name);
    }
    queue.push(...inner(schema, segments));
  }

  const decls = [];
  const done = new Set();
  const declare = (schema, segments) => {
    const name = names.get(idOf(schema, segments));
    if (done.has(name)) return name;
    done.add(name);
    const slot = decls.push("") - 1; // parents before children
    const required = new Set(requiredOf(schema));
    const head = summary(schema.description);
    const lines = [...(head ? [`/** ${head} */`] : []), `export interface ${name} {`];
    for (const [prop, sub] of Object.entries(schema.properties)) {
      const doc = summary(sub.description);
      if (doc) lines.push(`  /** ${doc} */`);
      lines.push(`  ${key(prop)}${required.has(prop) ? "" : "?"}: ${typeOf(sub, [...segments, prop])};`);
    }
    if (schema["x-kubernetes-preserve-unknown-fields"]) lines.push("  [field: string]: unknown;");
    lines.push("}");
    decls[slot] = lines.join("\n");
    return name;
  };

  const typeOf = (schema, segments) => {
    if (schema["x-kubernetes-int-or-string"]) return "number | string";
    if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
    switch (schema.type) {
      case "string":
        return "string";
      case "integer":
      case "number":
        return "number";
      case "boolean":
        return "boolean";
      case "array": {
        const item = typeOf(schema.items ?? {}, element(segments));
        return / \| /.test(item) && !item.startsWith("{") ? `(${item})[]` : `${item}[]`;
      }
    }
    if (schema.properties) return declare(schema, segments);
    if (typeof schema.additionalProperties === "object") {
      return `{ [key: string]: ${typeOf(schema.additionalProperties, element(segments))} }`;
    }
    if (schema.type !== "object") return "unknown";
    if (schema.additionalProperties === true || schema["x-kubernetes-preserve-unknown-fields"]) {
      return "{ [key: string]: unknown }";
    }
    return "Record<string, never>";
  };

  declare(spec, ["spec"]);
  return decls;
}

function render({ crd, version, source, spec }) {
  const { group, names } = crd.spec;
  return `// Generated by \`npm run crd-types\` (scripts/crd-types.mjs) from the CRD ${crd.metadata.name},
// version ${version}: ${source}.
// Do not edit; \`npm run test:schemas\` fails when this file and the CRD differ.

export const apiVersion = ${JSON.stringify(`${group}/${version}`)};
export const kind = ${JSON.stringify(names.kind)};

${renderSpec(names.kind, spec).join("\n\n")}
`;
}

function fail(msg) {
  console.error(`crd-types: ${msg}`);
  process.exit(1);
}

// file -> its YAML documents
const parsed = new Map();
function documents(file) {
  if (!parsed.has(file)) {
    const docs = parseAllDocuments(fs.readFileSync(file, "utf8")).map((d) => d.toJS());
    parsed.set(file, docs);
  }
  return parsed.get(file);
}

/** The directory of module@version in the Go module cache, downloaded (and verified) by go. */
function moduleDir({ module, version }) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "crd-types-"));
  try {
    const r = spawnSync("go", ["mod", "download", "-json", `${module}@${version}`], {
      cwd: tmp, // an empty directory: no go.mod around
      encoding: "utf8",
      env: { ...process.env, GO111MODULE: "on", GOFLAGS: "-mod=mod", GOTOOLCHAIN: "local" },
      timeout: 300_000,
    });
    if (r.error) fail(`cannot run go (${r.error.message}): Gateway API and Istio CRDs come from their Go modules`);
    let info = {};
    try {
      info = JSON.parse(r.stdout);
    } catch {
      info.Error = (r.stderr || r.stdout).trim();
    }
    if (info.Error || r.status !== 0 || info.Version !== version) {
      fail(`go mod download ${module}@${version}: ${info.Error || r.stderr.trim() || `got ${info.Version}`}`);
    }
    return info.Dir;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** The CRD of a KINDS entry, where it comes from, and its spec schema at the version used. */
function load(entry, pins) {
  let file, source;
  if (entry.from) {
    const inModule = MODULE_FILES[entry.from.module](entry.crd);
    file = path.join(moduleDir(entry.from), inModule);
    source = `${entry.from.module}@${entry.from.version}, ${inModule}`;
  } else {
    const pin = pins.find((p) => p.name === entry.crd);
    if (!pin) fail(`testbed/crds/pins.json pins no ${entry.crd}`);
    file = path.join(cacheDir, path.posix.basename(pin.path));
    source = `${pin.module}@${pin.version}, ${pin.path} (pinned in testbed/crds/pins.json)`;
  }
  const crd = documents(file).find((d) => d?.kind === "CustomResourceDefinition" && d.metadata?.name === entry.crd);
  if (!crd) fail(`${file} holds no CRD ${entry.crd}`);
  const served = crd.spec.versions.find((v) => v.name === entry.version && v.served !== false);
  const spec = served?.schema?.openAPIV3Schema?.properties?.spec;
  if (!spec) fail(`${entry.crd} serves no version ${entry.version} with a spec schema`);
  return { crd, version: entry.version, source, spec };
}

const fetched = spawnSync("bash", [path.join(ROOT, "testbed/crds/fetch-crds.sh")], {
  stdio: ["ignore", "ignore", "inherit"],
});
if (fetched.status !== 0) process.exit(fetched.status ?? 1);

const pins = JSON.parse(fs.readFileSync(path.join(ROOT, "testbed/crds/pins.json"), "utf8")).crds;
const rel = (f) => path.relative(process.cwd(), f) || f;
const stale = [];
for (const entry of KINDS) {
  const out = path.join(outDir, `${entry.file}.generated.ts`);
  const text = render(load(entry, pins));
  if (check) {
    if (!fs.existsSync(out) || fs.readFileSync(out, "utf8") !== text) stale.push(rel(out));
  } else {
    fs.mkdirSync(outDir, { recursive: true });
    fs.writeFileSync(out, text);
  }
}
// A kind taken off KINDS leaves no file behind.
const wanted = new Set(KINDS.map((k) => `${k.file}.generated.ts`));
for (const f of fs.existsSync(outDir) ? fs.readdirSync(outDir) : []) {
  if (!f.endsWith(".generated.ts") || wanted.has(f)) continue;
  if (check) stale.push(rel(path.join(outDir, f)));
  else fs.rmSync(path.join(outDir, f));
}
if (stale.length) fail(`${stale.join(", ")} differ from the CRDs; run npm run crd-types and review the change`);
console.log(`crd-types: ${KINDS.length} files in ${rel(outDir)} ${check ? "match" : "written from"} the CRDs`);
