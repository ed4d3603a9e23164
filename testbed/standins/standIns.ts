import * as fs from "node:fs";
import * as path from "node:path";
import { apiServerAt, type ApiServer } from "../apiserver/apiServer";
import { REPO_ROOT, scratchTmp } from "../engine/engine";

/**
 * The stand-ins for `make`, Kind's `kind` and `docker` (testbed/standins), with their own call log.
 * Each "Kind cluster" the make stand-in creates is a loopback API server of its own.
 */
export function standIns(): {
  env: Record<string, string>;
  calls(): string[];
  cluster(name: string): ApiServer | undefined;
  stopClusters(): void;
} {
  const dir = scratchTmp("mcp-standins-");
  const clusters = path.join(dir, "clusters");
  const cluster = (name: string) => {
    const marker = path.join(clusters, name);
    return fs.existsSync(marker) ? apiServerAt(fs.readFileSync(marker, "utf8").trim()) : undefined;
  };
  return {
    env: { PATH: `${path.join(REPO_ROOT, "testbed/standins")}:${process.env.PATH}`, MCP_STANDIN_DIR: dir },
    calls: () => {
      const log = path.join(dir, "calls.log");
      return fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n").filter(Boolean) : [];
    },
    cluster,
    stopClusters: () => {
      for (const name of fs.existsSync(clusters) ? fs.readdirSync(clusters) : []) cluster(name)?.stop();
    },
  };
}
