// The test bed's layout, checked statically: test/e2e/ holds only test files, and imports go one
// way, test/ -> testbed/ -> product code, so the test bed can be read (and reused) without the tests
// and the product never depends on the test bed. See testbed/README.md.

import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "..");
const CODE = /\.(ts|mts|cts|js|mjs|cjs)$/;

/** Every file under `dir` (relative to the repository), without node_modules. */
function filesUnder(dir: string): string[] {
  const abs = path.join(ROOT, dir);
  if (!fs.existsSync(abs)) return [];
  if (fs.statSync(abs).isFile()) return [dir];
  return fs
    .readdirSync(abs, { recursive: true, withFileTypes: true })
    .filter((f) => f.isFile())
    .map((f) => path.relative(ROOT, path.join(f.parentPath, f.name)))
    .filter((f) => !f.split(path.sep).includes("node_modules"));
}

/** The module specifiers a file imports: `from "..."`, `import "..."`, `import("...")`, `require("...")`. */
function specifiers(source: string): string[] {
  const pattern = /(?:\bfrom\s*|^\s*import\s*|\bimport\s*\(\s*|\brequire\s*\(\s*)["']([^"']+)["']/gm;
  return [...source.matchAll(pattern)].map((m) => m[1]);
}

/** The repository paths (relative) a file's relative imports resolve to. */
function importedPaths(file: string): string[] {
  const source = fs.readFileSync(path.join(ROOT, file), "utf8");
  return specifiers(source)
    .filter((s) => s.startsWith("."))
    .map((s) => path.relative(ROOT, path.resolve(ROOT, path.dirname(file), s)));
}

const under = (p: string, dir: string) => p === dir || p.startsWith(`${dir}/`);

/** `file imports target` for each import of `files` that resolves under `dir`. */
const importsUnder = (files: string[], dir: string) =>
  files.flatMap((f) =>
    importedPaths(f)
      .filter((p) => under(p, dir))
      .map((p) => `${f} imports ${p}`),
  );

describe("the test bed's layout", () => {
  it("the import scanner sees static, side-effect, dynamic and require imports", () => {
    const source = [
      'import { a } from "./a";',
      'import type { B } from "../b";',
      'import "./side";',
      'export { c } from "./c";',
      'const d = await import("./d");',
      'const e = require("./e");',
      "import {\n  f,\n  g,\n} from './fg';",
    ].join("\n");
    expect(specifiers(source)).toEqual(["./a", "../b", "./side", "./c", "./d", "./e", "./fg"]);
    // And the e2e tests' real imports of the test bed resolve to it.
    expect(importsUnder(["test/e2e/preview.test.ts"], "testbed")).toContain(
      "test/e2e/preview.test.ts imports testbed/engine/engine",
    );
  });

  it("test/e2e/ holds only *.test.ts files (helpers live in testbed/)", () => {
    const files = filesUnder("test/e2e");
    expect(files.length).toBeGreaterThan(0);
    expect(files.filter((f) => !f.endsWith(".test.ts"))).toEqual([]);
  });

  it("nothing under testbed/ imports from test/", () => {
    const files = filesUnder("testbed").filter((f) => CODE.test(f));
    expect(files).toContain("testbed/keycloak/keycloak.ts");
    expect(importsUnder(files, "test")).toEqual([]);
  });

  it("no product file (index.ts, components/, stacks/, policy/) imports from testbed/", () => {
    const files = ["index.ts", "components", "stacks", "policy"].flatMap(filesUnder).filter((f) => CODE.test(f));
    expect(files).toContain("index.ts");
    expect(importsUnder(files, "testbed")).toEqual([]);
  });
});
