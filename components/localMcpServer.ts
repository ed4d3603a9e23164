import * as command from "@pulumi/command";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import * as pulumi from "@pulumi/pulumi";
import { childOptions } from "./childOptions";
import {
  hostStateRoot,
  isServerProcess,
  readStateFile,
  restartGeneration,
  stackHostStateKey,
  stateDirShell,
} from "./hostState";

export interface LocalMcpServerArgs {
  port: number;
  /**
   * Address the server listens on, or `kind-network`: the host's address on the Kind network
   * (found when it starts). Without a token a request acts with the kubeconfig's power.
   */
  bindAddress: string;
  toolsets: string[];
  /** Tools the server must not offer (`configuration_view` while it holds credentials). */
  disabledTools?: string[];
  /** Kubeconfig contents (a secret) the server uses when a request carries no token. */
  kubeconfig: pulumi.Input<string>;
  /** kubernetes-mcp-server binary, relative to the project directory (stable across machines). */
  binary: string;
  /** The project directory: with the organization, project and stack it keys the server's state folder. */
  projectDir: string;
  /** Seconds to wait for /healthz before giving up. */
  waitSeconds?: number;
}

/**
 * The kubeconfig with every user's credentials removed: clusters (server, CA) and contexts stay.
 * The server then acts only with the token a request brings; a request without one reaches the API
 * server as anonymous and is refused, instead of acting with the kubeconfig's own power.
 */
export function kubeconfigWithoutCredentials(kubeconfig: string): string {
  const doc = parse(kubeconfig) as { users?: Array<{ name: string }> } | null;
  if (!doc || typeof doc !== "object") throw new Error("kubeconfigWithoutCredentials: not a kubeconfig");
  return stringify({ ...doc, users: (doc.users ?? []).map((u) => ({ name: u.name, user: {} })) });
}

/** npm names of the platform packages that carry kubernetes-mcp-server's static binary. */
export function platformPackage(platform: string, arch: string): string {
  const os = { linux: "linux", darwin: "darwin", win32: "windows" }[platform];
  const cpu = { x64: "amd64", arm64: "arm64" }[arch];
  if (!os || !cpu) throw new Error(`kubernetes-mcp-server has no binary for ${platform}/${arch}`);
  return `kubernetes-mcp-server-${os}-${cpu}`;
}

/**
 * Path of the binary that `npm ci` installed (the `kubernetes-mcp-server` wrapper would start
 * it as a child, which the delete step could not stop), relative to `projectDir`.
 */
export function resolveMcpServerBinary(
  projectDir: string,
  resolve: (id: string) => string = require.resolve,
  platform: string = process.platform,
  arch: string = process.arch,
): string {
  const pkg = platformPackage(platform, arch);
  let pkgJson: string;
  try {
    pkgJson = resolve(`${pkg}/package.json`);
  } catch {
    throw new Error(
      `mcpServer.manage is true, but the kubernetes-mcp-server binary package ${pkg} is not installed in ${path.join(projectDir, "node_modules")}: run 'npm ci' in the project directory (or set mcpServer.manage to false and run the server yourself)`,
    );
  }
  const exe = platform === "win32" ? `${pkg}.exe` : pkg;
  return path.relative(projectDir, path.join(path.dirname(pkgJson), "bin", exe));
}

// Shared by the start and stop scripts. The pid file is where the next `up`, `refresh` or `destroy`
// finds a server whose `up` was interrupted before its pid reached the state.
const serverFunctions = `${stateDirShell}pid_file="$state_dir/server.pid"
# Ours: a kubernetes-mcp-server process serving exactly this port (the pid may have been reused).
is_ours() {
  [ -n "$1" ] || return 1
  args=$(ps -p "$1" -o args= 2>/dev/null) || return 1
  case "$args" in *kubernetes-mcp-server*) ;; *) return 1 ;; esac
  case " $args " in *" --port $MCP_PORT "*) return 0 ;; *) return 1 ;; esac
}
# TERM, then KILL after the grace period: the process is gone when this returns.
stop_ours() {
  is_ours "$1" || return 0
  kill "$1" 2>/dev/null || true
  waited=0
  while [ "$waited" -lt "\${MCP_STOP_GRACE_SECONDS:-10}" ]; do is_ours "$1" || return 0; sleep 1; waited=$((waited + 1)); done
  echo "kubernetes-mcp-server (pid $1) ignored SIGTERM for $waited s: killing it" >&2
  kill -9 "$1" 2>/dev/null || true
  for _ in 1 2 3 4 5; do is_ours "$1" || return 0; sleep 1; done
  echo "kubernetes-mcp-server (pid $1) is still running" >&2
  return 1
}
`;

// The host's first IPv4 address on the container network "kind" (the bridge Kind's nodes reach
// the host through), from Docker or Podman.
const kindNetworkAddress = `kind_network_address() {
  for runtime in docker podman; do
    command -v "$runtime" >/dev/null 2>&1 || continue
    for format in '{{range .IPAM.Config}}{{.Gateway}} {{end}}' '{{range .Subnets}}{{.Gateway}} {{end}}'; do
      for address in $("$runtime" network inspect kind --format "$format" 2>/dev/null); do
        case "$address" in *.*.*.*) echo "$address"; return 0 ;; esac
      done
    done
  done
  return 1
}
`;

// Kubeconfig contents go to a private file; on any failure it is removed again. The server
// starts in a session of its own (node's detached spawn = setsid): the command plugin signals its
// process group when it exits, which would stop a plain background child. Its environment is
// PATH and HOME only: the script's own holds the kubeconfig. Output goes to a log file and only the
// pid is printed: a child holding stdout open would hang the step.
export const startScript = `set -eu
${serverFunctions}${kindNetworkAddress}started=""
cleanup() {
  status=$?
  if [ "$status" -ne 0 ] && [ -z "$started" ]; then rm -f "$state_dir/kubeconfig" "$state_dir/config.toml"; fi
  rm -rf "$lock"
  exit "$status"
}
trap cleanup EXIT
left=$(cat "$pid_file" 2>/dev/null || true)
if is_ours "$left"; then
  echo "stopping kubernetes-mcp-server pid $left, left running by an interrupted update" >&2
  stop_ours "$left"
fi
rm -f "$pid_file"
bind="$MCP_BIND_ADDRESS"
if [ "$bind" = kind-network ]; then
  bind=$(kind_network_address) || {
    echo "mcpServer.bindAddress is 'kind-network', but neither docker nor podman knows a network 'kind' with an IPv4 gateway: set mcpServer.bindAddress to the address the cluster reaches this host on" >&2
    exit 1
  }
fi
# The health check asks the address the server binds (an unspecified one answers on loopback).
case "$bind" in
  0.0.0.0) probe_host=127.0.0.1 ;;
  ::) probe_host="[::1]" ;;
  *:*) probe_host="[$bind]" ;;
  *) probe_host="$bind" ;;
esac
health="http://$probe_host:$MCP_PORT/healthz"
probe() { "$MCP_NODE" -e 'fetch(process.argv[1]).then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$health"; }
if probe; then
  echo "port $MCP_PORT already answers /healthz: another kubernetes-mcp-server runs there; stop it or set mcpServer.port" >&2
  exit 1
fi
kubeconfig="$state_dir/kubeconfig"
(umask 077 && printf '%s\\n' "$MCP_KUBECONFIG" > "$kubeconfig")
set -- --port "$MCP_PORT" --bind-address "$bind" --toolsets "$MCP_TOOLSETS" --kubeconfig "$kubeconfig"
if [ -n "$MCP_DISABLED_TOOLS" ]; then
  (umask 077 && printf 'disabled_tools = [%s]\\n' "$(printf '%s' "$MCP_DISABLED_TOOLS" | sed 's/[^,]*/"&"/g')" > "$state_dir/config.toml")
  set -- "$@" --config "$state_dir/config.toml"
fi
pid=$("$MCP_NODE" -e '
const [bin, log, ...args] = process.argv.slice(1);
const out = require("fs").openSync(log, "a");
const env = { PATH: process.env.PATH, HOME: process.env.HOME };
const child = require("child_process").spawn(bin, args, { detached: true, stdio: ["ignore", out, out], env });
child.unref();
console.log(child.pid);
' "$MCP_BINARY" "$state_dir/server.log" "$@")
echo "$pid" > "$pid_file"
waited=0
until probe; do
  if ! is_ours "$pid"; then
    # Its error first (a flag error is followed by the whole usage text), then the log's end.
    echo "kubernetes-mcp-server exited before answering on port $MCP_PORT: $(grep -m 1 '^Error:' "$state_dir/server.log" || true)" >&2
    echo "the end of its log ($state_dir/server.log):" >&2
    tail -n 5 "$state_dir/server.log" >&2
    rm -f "$pid_file"
    exit 1
  fi
  if [ "$waited" -ge "$MCP_WAIT_SECONDS" ]; then
    stop_ours "$pid"
    rm -f "$pid_file"
    echo "kubernetes-mcp-server did not answer $health within $MCP_WAIT_SECONDS s" >&2
    exit 1
  fi
  sleep 1
  waited=$((waited + 1))
done
started=yes
echo "$MCP_GENERATION" > "$state_dir/generation"
echo "$pid"
`;

// Stops the process this stack started: the pid in state, and the one in the pid file if they differ.
export const stopScript = `set -eu
${serverFunctions}trap 'rm -rf "$lock"' EXIT
stop_ours "\${PULUMI_COMMAND_STDOUT:-}"
stop_ours "$(cat "$pid_file" 2>/dev/null || true)"
rm -f "$pid_file" "$state_dir/kubeconfig" "$state_dir/config.toml" "$state_dir/generation"
`;

/** Environment of the start and stop scripts (the kubeconfig stays a secret). */
export function serverEnvironment(
  args: LocalMcpServerArgs,
  stateKey: string,
  generation: number,
): Record<string, pulumi.Input<string>> {
  return {
    MCP_STATE_KEY: stateKey,
    MCP_PORT: String(args.port),
    MCP_BIND_ADDRESS: args.bindAddress,
    MCP_TOOLSETS: args.toolsets.join(","),
    MCP_DISABLED_TOOLS: (args.disabledTools ?? []).join(","),
    MCP_BINARY: args.binary,
    MCP_NODE: "node",
    MCP_WAIT_SECONDS: String(args.waitSeconds ?? 30),
    MCP_GENERATION: String(generation),
    MCP_KUBECONFIG: args.kubeconfig,
  };
}

/**
 * Whether the server this stack started before is gone (killed, crashed, the machine rebooted):
 * its pid file names a process that is no longer it. Read by the program, on preview too.
 */
export function serverGeneration(stateDir: string, port: number, isOurs = isServerProcess) {
  const pid = readStateFile(stateDir, "server.pid");
  const gone = pid !== undefined && !isOurs(pid, port) ? pid : undefined;
  return { generation: restartGeneration(readStateFile(stateDir, "generation"), gone !== undefined), gone };
}

/**
 * kubernetes-mcp-server as a background process on the host: started and waited for on
 * create, stopped on delete. Any change of its settings restarts it (stop, then start), and so
 * does finding it gone (the generation in its environment moves on).
 */
export class LocalMcpServer extends pulumi.ComponentResource {
  /** Pid of the running server. */
  public readonly pid: pulumi.Output<string>;
  public readonly port: number;

  constructor(name: string, args: LocalMcpServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mcp-gateway-stack:mcp:LocalMcpServer", name, {}, opts);
    this.port = args.port;
    const stateKey = stackHostStateKey(args.projectDir, name);
    const { generation, gone } = serverGeneration(path.join(hostStateRoot(), stateKey), args.port);
    if (gone)
      pulumi.log.warn(
        `kubernetes-mcp-server (pid ${gone}, port ${args.port}) is no longer running: this update starts it again`,
        this,
      );
    const process = new command.local.Command(
      `${name}-process`,
      {
        create: startScript,
        delete: stopScript,
        environment: serverEnvironment(args, stateKey, generation),
        logging: "stderr",
      },
      childOptions(this, opts, { replaceOnChanges: ["environment", "create"], deleteBeforeReplace: true }),
    );
    this.pid = process.stdout.apply((s) => s.trim());
    this.registerOutputs({ pid: this.pid });
  }
}
