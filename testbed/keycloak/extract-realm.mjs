// Writes the Keycloak realm(s) held in a Kubernetes YAML file into a realm import directory.
//   node extract-realm.mjs FILE OUTDIR
// FILE: the gateway's config/keycloak/realm-import.yaml (a ConfigMap whose data.<name>.json is the
// realm JSON), or any YAML/JSON with one or more documents that are a realm themselves, a
// KeycloakRealmImport (spec.realm), or a ConfigMap/Secret (data / stringData values holding realm
// JSON). Each realm lands in OUTDIR/<realm>-realm.json; stdout: the realm names, one a line.
// Uses the project's `yaml` package (node_modules at the repository root).
import { createRequire } from "node:module";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const [file, outDir] = process.argv.slice(2);
if (!file || !outDir) {
  console.error("usage: node extract-realm.mjs FILE OUTDIR");
  process.exit(2);
}
const root = resolve(fileURLToPath(import.meta.url), "../../..");
let YAML;
try {
  YAML = createRequire(join(root, "package.json"))("yaml");
} catch {
  console.error(`extract-realm: the yaml package is not in ${root}/node_modules: run npm ci there`);
  process.exit(1);
}

const isRealm = (o) => o && typeof o === "object" && !Array.isArray(o) && typeof o.realm === "string";
const realms = [];
const fromString = (s, where) => {
  let o;
  try {
    o = JSON.parse(s);
  } catch {
    return;
  }
  if (isRealm(o)) realms.push([o, where]);
};

const docs = YAML.parseAllDocuments(readFileSync(file, "utf8"));
docs.forEach((doc, i) => {
  if (doc.errors.length) throw new Error(`${file}: document ${i + 1}: ${doc.errors[0].message}`);
  const o = doc.toJS({ maxAliasCount: -1 });
  if (!o || typeof o !== "object") return;
  if (isRealm(o)) return realms.push([o, `document ${i + 1}`]);
  if (isRealm(o.spec?.realm))
    return realms.push([o.spec.realm, `${o.kind ?? "document"} ${o.metadata?.name ?? i + 1} spec.realm`]);
  for (const [k, v] of Object.entries(o.stringData ?? {})) {
    if (typeof v === "string") fromString(v, `${o.kind} ${o.metadata?.name} stringData.${k}`);
  }
  for (const [k, v] of Object.entries(o.data ?? {})) {
    if (typeof v !== "string") continue;
    const text = o.kind === "Secret" ? Buffer.from(v, "base64").toString("utf8") : v;
    fromString(text, `${o.kind} ${o.metadata?.name} data.${k}`);
  }
});
if (!realms.length) {
  console.error(`extract-realm: no realm JSON found in ${file}`);
  process.exit(1);
}
const seen = new Set();
for (const [realm, where] of realms) {
  if (seen.has(realm.realm)) throw new Error(`${file}: realm ${realm.realm} defined twice (${where})`);
  seen.add(realm.realm);
  if (!/^[A-Za-z0-9._-]+$/.test(realm.realm)) throw new Error(`${file}: odd realm name ${JSON.stringify(realm.realm)}`);
  writeFileSync(join(outDir, `${realm.realm}-realm.json`), JSON.stringify(realm, null, 2) + "\n");
  console.error(`extract-realm: realm ${realm.realm} from ${where}`);
  console.log(realm.realm);
}
