import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";

/**
 * Where the stack keeps what it runs on the host (pid file, kubeconfig copy, markers), below
 * `${XDG_STATE_HOME:-~/.local/state}/mcp-gateway-stack/`. One folder per organization, project,
 * stack and project directory: two stacks of the same name (two backends, two checkouts of the
 * project) never share a pid file or a kubeconfig. Relative, so the key stays the same on every
 * machine and the scripts resolve it in their own environment.
 */
export function hostStateKey(
  where: { organization: string; project: string; stack: string; projectDir: string },
  name: string,
): string {
  const dir = createHash("sha256").update(path.resolve(where.projectDir)).digest("hex").slice(0, 12);
  return [where.organization, where.project, where.stack, dir, name].join("/");
}

/** The key of this program's stack: the engine's organization, project and stack. */
export const stackHostStateKey = (projectDir: string, name: string): string =>
  hostStateKey(
    {
      organization: pulumi.getOrganization(),
      project: pulumi.getProject(),
      stack: pulumi.getStack(),
      projectDir,
    },
    name,
  );

/** The shell's `${XDG_STATE_HOME:-$HOME/.local/state}/mcp-gateway-stack`, for reading in the program. */
export function hostStateRoot(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.XDG_STATE_HOME || path.join(env.HOME ?? os.homedir(), ".local/state"), "mcp-gateway-stack");
}

/** The scripts' shared prologue: `state_dir` from MCP_STATE_KEY, and a lock held until the script exits. */
export const stateDirShell = `state_dir="\${XDG_STATE_HOME:-$HOME/.local/state}/mcp-gateway-stack/$MCP_STATE_KEY"
mkdir -p "$state_dir" && chmod 700 "$state_dir"
# One script at a time per folder (mkdir is atomic everywhere; flock is not on macOS). A lock whose
# holder is gone was left by a killed run and is taken over.
lock="$state_dir/lock"
waited=0
until mkdir "$lock" 2>/dev/null; do
  holder=$(cat "$lock/pid" 2>/dev/null || true)
  if [ -n "$holder" ] && ! kill -0 "$holder" 2>/dev/null; then rm -rf "$lock"; continue; fi
  if [ "$waited" -ge "\${MCP_LOCK_WAIT_SECONDS:-60}" ]; then
    echo "$state_dir is locked by process \${holder:-?} (another pulumi run of this stack); try again when it ends" >&2
    exit 1
  fi
  sleep 1
  waited=$((waited + 1))
done
echo $$ > "$lock/pid"
`;

/** Reads a small state file, or undefined when it is absent. */
export function readStateFile(dir: string, file: string): string | undefined {
  const p = path.join(dir, file);
  return fs.existsSync(p) ? fs.readFileSync(p, "utf8").trim() : undefined;
}

/** Whether `pid` is a kubernetes-mcp-server serving exactly `port` (a pid may be reused). */
export function isServerProcess(pid: string, port: number): boolean {
  if (!/^\d+$/.test(pid)) return false;
  try {
    const args = execFileSync("ps", ["-p", pid, "-o", "args="], { encoding: "utf8", stdio: "pipe" });
    return args.includes("kubernetes-mcp-server") && ` ${args.trim()} `.includes(` --port ${port} `);
  } catch {
    return false;
  }
}

/**
 * How many times something the stack runs on the host was found gone and started again. A
 * resource's inputs carry it: when the thing is found gone, the next number changes them, so
 * `preview` shows a replacement and `up` makes it again; once made, the script records that
 * number and the inputs stay the same.
 */
export function restartGeneration(recorded: string | undefined, gone: boolean): number {
  const n = /^\d+$/.test(recorded ?? "") ? Number(recorded) : 0;
  return gone ? n + 1 : n;
}
