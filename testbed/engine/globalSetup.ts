import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** One temp dir for every scratch project of a run (engine.ts), removed when the run ends. */
export default function setup(): () => void {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "mcp-stack-e2e-"));
  process.env.MCP_E2E_SCRATCH_ROOT = root;
  return () => fs.rmSync(root, { recursive: true, force: true });
}
