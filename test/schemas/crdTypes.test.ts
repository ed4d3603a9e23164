// The typed specs (components/crds/) and the CRDs they come from: the generated files are what
// scripts/crd-types.mjs makes of the CRDs now, and the objects of test/support/typedSpecs.ts, whose
// mistakes tsc rejects, are what the pinned CRDs accept (the builders' output) or reject.

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import * as authPolicy from "../../components/crds/authPolicy.generated";
import * as mcpServer from "../../components/crds/mcpServer.generated";
import * as mcpServerRegistration from "../../components/crds/mcpServerRegistration.generated";
import { validateManifest } from "../support/schemas";
import { built, manifest, mistakes, policy } from "../support/typedSpecs";

const errors = (k: { apiVersion: string; kind: string }, spec: unknown) => validateManifest(manifest(k, spec));

describe("the typed specs and the pinned CRDs", () => {
  it("what the spec builders make is valid", () => {
    expect(errors(mcpServer, built.mcpServer)).toEqual([]);
    expect(errors(mcpServerRegistration, built.registration)).toEqual([]);
    expect(errors(authPolicy, policy(built.rules))).toEqual([]);
  });

  it("the mistakes the types reject, the CRDs reject", () => {
    expect(errors(mcpServer, mistakes.mcpServer.misspeltField)).toContain("spec.toolprefix: unknown field");
    expect(errors(mcpServerRegistration, mistakes.registration.kagentiFieldName)).toContain(
      "spec.toolPrefix: unknown field",
    );
    expect(errors(authPolicy, policy(mistakes.authPolicy.misspeltField))).toContain(
      "spec.rules.authentication.keycloak.jwt.issuerURL: unknown field",
    );
    expect(errors(authPolicy, policy(mistakes.authPolicy.codeAsString))).toContain(
      'spec.rules.response.unauthenticated.code: must be integer (got "401")',
    );
  });
});

describe("the generated types and their CRDs", () => {
  const GENERATED = "components/crds";
  const check = (dir: string) =>
    spawnSync("node", ["scripts/crd-types.mjs", "--check", "--out", dir], { encoding: "utf8", timeout: 120_000 });

  it("the checked-in files are what scripts/crd-types.mjs makes of the CRDs", () => {
    const run = check(GENERATED);
    expect(run.status, run.stderr).toBe(0);
  }, 120_000);

  it("a file that differs from its CRD is named, and only that one", () => {
    const drifted = fs.mkdtempSync(path.join(os.tmpdir(), "crd-types-"));
    for (const f of fs.readdirSync(GENERATED).filter((n) => n.endsWith(".generated.ts"))) {
      fs.copyFileSync(path.join(GENERATED, f), path.join(drifted, f));
    }
    const file = path.join(drifted, "httpRoute.generated.ts");
    fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace("hostnames?:", "hostname?:"));
    const run = check(drifted);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/crd-types: \S*httpRoute\.generated\.ts differ from the CRDs/);
    expect(run.stderr).not.toContain("authPolicy.generated.ts");
    fs.rmSync(drifted, { recursive: true, force: true });
  }, 120_000);
});
