import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { SERVER_TOOLS } from "../components/serverTools.generated";
import { GUIDE_TOOLS, GUIDE_TOOLSETS, toolsetsServing } from "../components/tools";

// The tool names come from the pinned kubernetes-mcp-server's own tools/list (scripts/server-tools.mjs
// runs the real binary from npm, offline, one toolset at a time).
const GENERATED = "components/serverTools.generated.ts";
const check = (out: string) =>
  spawnSync("node", ["scripts/server-tools.mjs", "--check", "--out", out], { encoding: "utf8", timeout: 120_000 });

describe("the tool list and the pinned kubernetes-mcp-server", () => {
  it("the generated list is exactly what the pinned server serves, toolset by toolset", () => {
    const run = check(GENERATED);
    expect(run.status, run.stderr).toBe(0);
  }, 120_000);

  it("a tool the server serves but the list lacks, and one the list has but the server does not, are named", () => {
    const drifted = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "server-tools-")), "tools.ts");
    fs.writeFileSync(drifted, fs.readFileSync(GENERATED, "utf8").replace('"pods_log"', '"pods_logs"'));
    const run = check(drifted);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("served but not listed: pods_log;");
    expect(run.stderr).toContain("listed but not served: pods_logs;");
  }, 120_000);

  it("every tool the guide grants is served by the guide's toolsets", () => {
    for (const tool of GUIDE_TOOLS) {
      expect(
        toolsetsServing(tool).filter((t) => (GUIDE_TOOLSETS as readonly string[]).includes(t)),
        tool,
      ).not.toEqual([]);
    }
    expect(Object.keys(SERVER_TOOLS).length).toBeGreaterThan(GUIDE_TOOLSETS.length);
  });
});
