import * as fs from "node:fs";
import * as path from "node:path";
import { parseAllDocuments } from "yaml";

const FIXTURES = path.join(__dirname, "..", "fixtures");

/** The guide's Kubernetes objects, by kind. */
export const guideManifests: Record<string, any> = Object.fromEntries(
  parseAllDocuments(fs.readFileSync(path.join(FIXTURES, "guide-manifests.yaml"), "utf8"))
    .map((d) => d.toJS())
    .filter((o) => o && o.kind)
    .map((o) => [o.kind, o]),
);

export const guideKeycloak = JSON.parse(fs.readFileSync(path.join(FIXTURES, "guide-keycloak.json"), "utf8")) as {
  realm: string;
  client: { clientId: string; publicClient: boolean; standardFlowEnabled: boolean; fullScopeAllowed: boolean };
  roles: string[];
  group: string;
  user: string;
};

/** Strips the trailing newline YAML block scalars (`|`) add, at every depth. */
export function trimStrings(v: any): any {
  if (typeof v === "string") return v.trimEnd();
  if (Array.isArray(v)) return v.map(trimStrings);
  if (typeof v === "object" && v !== null)
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, trimStrings(x)]));
  return v;
}
