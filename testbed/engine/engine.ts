/**
 * The real Pulumi engine, offline: the CLI and plugins that testbed/toolchain/build.sh built,
 * a local file backend, passphrase secrets, and a scratch copy of the project per test file.
 */
import { LocalWorkspace, PulumiCommand, type EngineEvent, type Stack } from "@pulumi/pulumi/automation";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { hostStateKey } from "../../components/hostState";

export const REPO_ROOT = path.resolve(__dirname, "../..");
export const PASSPHRASE = "e2e-passphrase";
const CACHE =
  process.env.MCP_STACK_CACHE ??
  path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "mcp-gateway-stack");

interface Manifest {
  pulumi_home: string;
  components: Array<{ component: string; version: string; binary: string }>;
}

export function toolchain(): { cliDir: string; pulumiHome: string; manifest: Manifest } {
  const file = path.join(CACHE, "toolchain", "manifest.json");
  if (!fs.existsSync(file))
    throw new Error(`${file} is missing: run 'bash testbed/toolchain/build.sh' first (npm run test:e2e does)`);
  const manifest = JSON.parse(fs.readFileSync(file, "utf8")) as Manifest;
  const cli = manifest.components.find((c) => c.component === "pulumi");
  if (!cli) throw new Error(`${file} lists no pulumi CLI`);
  return { cliDir: path.dirname(cli.binary), pulumiHome: manifest.pulumi_home, manifest };
}

/** The files `pulumi` needs, copied (stack files are rewritten by setConfig), node_modules linked. */
const PROJECT_FILES = [
  "index.ts",
  "components",
  "stacks",
  "Pulumi.yaml",
  "Pulumi.dev.yaml",
  "package.json",
  "tsconfig.json",
];

/**
 * The program (what a `git pull` changes: code and Pulumi.yaml, whose config schema declares each
 * key), without the stack file that setConfig writes.
 */
const PROGRAM_FILES = PROJECT_FILES.filter((f) => !/^Pulumi\..+\.yaml$/.test(f));

/**
 * Puts the program's code of `commit` into the scratch project (`undefined`: this checkout's), in
 * place, as a user's `git pull` does: the project dir, and so the stack's host state, stay the same.
 */
export function useProgramOf(s: Pick<Scratch, "dir">, commit?: string): void {
  for (const f of PROGRAM_FILES) fs.rmSync(path.join(s.dir, f), { recursive: true, force: true });
  if (commit === undefined) {
    for (const f of PROGRAM_FILES) fs.cpSync(path.join(REPO_ROOT, f), path.join(s.dir, f), { recursive: true });
    return;
  }
  const archive = execFileSync("git", ["-C", REPO_ROOT, "archive", commit, ...PROGRAM_FILES], { maxBuffer: 64 << 20 });
  execFileSync("tar", ["-x", "-C", s.dir], { input: archive });
}

export interface Scratch {
  stack: Stack;
  dir: string;
  stateDir: string;
  env: Record<string, string>;
}

/** A temp dir inside the run's scratch root (globalSetup.ts removes it after the run). */
export function scratchTmp(prefix: string): string {
  return fs.mkdtempSync(path.join(process.env.MCP_E2E_SCRATCH_ROOT ?? os.tmpdir(), prefix));
}

export async function scratchStack(name = "dev", extraEnv: Record<string, string> = {}): Promise<Scratch> {
  const { cliDir, pulumiHome } = toolchain();
  const dir = scratchTmp("mcp-stack-e2e-");
  for (const f of PROJECT_FILES) fs.cpSync(path.join(REPO_ROOT, f), path.join(dir, f), { recursive: true });
  fs.symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(dir, "node_modules"));
  const stateDir = path.join(dir, ".state");
  fs.mkdirSync(stateDir);
  const env: Record<string, string> = {
    ...extraEnv,
    PATH: `${cliDir}:${extraEnv.PATH ?? process.env.PATH}`,
    PULUMI_HOME: pulumiHome,
    PULUMI_BACKEND_URL: `file://${stateDir}`,
    PULUMI_CONFIG_PASSPHRASE: PASSPHRASE,
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    // The MCP server's state (pid, kubeconfig copy) stays inside the scratch dir.
    XDG_STATE_HOME: path.join(dir, ".xdg-state"),
  };
  // PulumiCommand.get({root}) expects <root>/bin/pulumi; the cache keys dirs by version, so use PATH.
  if (!process.env.PATH?.startsWith(cliDir)) process.env.PATH = `${cliDir}:${process.env.PATH}`;
  const pulumiCommand = await PulumiCommand.get({ skipVersionCheck: true });
  const stack = await LocalWorkspace.createOrSelectStack(
    { stackName: name, workDir: dir },
    { pulumiCommand, envVars: env },
  );
  return { stack, dir, stateDir, env };
}

/**
 * The folder where the scratch stack keeps what it runs on the host under `name` (the MCP server's
 * pid file, kubeconfig copy and log): the local backend's organization is "organization".
 */
export function hostStateDir(s: Scratch, name = "kubernetes-mcp-server", stack = "dev"): string {
  const key = hostStateKey(
    { organization: "organization", project: "mcp-gateway-stack", stack, projectDir: s.dir },
    name,
  );
  return path.join(s.env.XDG_STATE_HOME, "mcp-gateway-stack", key);
}

/** Every file under a directory, concatenated ("" when it does not exist). */
export function filesUnder(dir: string): string {
  if (!fs.existsSync(dir)) return "";
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((f) => f.isFile())
    .map((f) => fs.readFileSync(path.join(f.parentPath, f.name), "utf8"))
    .join("\n");
}

/**
 * What the scratch stack keeps on disk, where a secret must never be in clear: `pulumi stack
 * export`, the backend's state files, the stack file and Pulumi's logs.
 */
export function persistedTexts(s: Scratch): Record<string, string> {
  const exported = execFileSync("pulumi", ["stack", "export", "--stack", s.stack.name], {
    cwd: s.dir,
    env: { ...process.env, ...s.env },
  }).toString();
  return {
    "pulumi stack export": exported,
    "state files": filesUnder(s.stateDir),
    "stack file": fs.readFileSync(path.join(s.dir, `Pulumi.${s.stack.name}.yaml`), "utf8"),
    "Pulumi logs": filesUnder(path.join(s.env.PULUMI_HOME, "logs")),
  };
}

/** Counts the steps of one kind (`create`, `same`, ...) per resource type from engine events. */
export function stepCounter(op: string) {
  const counts: Record<string, number> = {};
  return {
    counts,
    onEvent: (e: EngineEvent) => {
      const m = e.resourcePreEvent?.metadata;
      if (m && m.op === op) counts[m.type] = (counts[m.type] ?? 0) + 1;
    },
  };
}

/** A kubeconfig for a cluster that is not there (or for `server`, e.g. a bare TCP listener). */
export const unreachableKubeconfig = (token: string, server = "https://127.0.0.1:1") => `apiVersion: v1
kind: Config
clusters:
- {name: e2e, cluster: {server: "${server}", insecure-skip-tls-verify: true}}
contexts:
- {name: e2e, context: {cluster: e2e, user: e2e}}
current-context: e2e
users:
- {name: e2e, user: {token: ${token}}}
`;
