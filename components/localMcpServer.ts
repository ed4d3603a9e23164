import * as command from "@pulumi/command";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";

export interface LocalMcpServerArgs {
  port: number;
  toolsets: string[];
  /** Kubeconfig contents or path (a secret) the server uses when a request carries no token. */
  kubeconfig: pulumi.Input<string>;
  /** kubernetes-mcp-server binary, relative to the project directory (stable across machines). */
  binary: string;
  /** Seconds to wait for /healthz before giving up. */
  waitSeconds?: number;
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
  const pkgJson = resolve(`${pkg}/package.json`);
  const exe = platform === "win32" ? `${pkg}.exe` : pkg;
  return path.relative(projectDir, path.join(path.dirname(pkgJson), "bin", exe));
}

// Kubeconfig contents are written to a private file; a path is used as it is.
// Output goes to a log file and only the pid is printed: a child holding stdout open would hang the step.
export const startScript = `set -eu
state_dir="\${XDG_STATE_HOME:-$HOME/.local/state}/mcp-gateway-stack/$MCP_STACK"
mkdir -p "$state_dir" && chmod 700 "$state_dir"
health="http://127.0.0.1:$MCP_PORT/healthz"
probe() { "$MCP_NODE" -e 'fetch(process.argv[1]).then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$health"; }
if probe; then
  echo "port $MCP_PORT already answers /healthz: another kubernetes-mcp-server runs there; stop it or set mcpServer.port" >&2
  exit 1
fi
if [ -f "$MCP_KUBECONFIG" ]; then
  kubeconfig="$MCP_KUBECONFIG"
else
  kubeconfig="$state_dir/kubeconfig"
  (umask 077 && printf '%s\\n' "$MCP_KUBECONFIG" > "$kubeconfig")
fi
nohup "$MCP_BINARY" --port "$MCP_PORT" --toolsets "$MCP_TOOLSETS" --kubeconfig "$kubeconfig" \\
  > "$state_dir/server.log" 2>&1 < /dev/null &
pid=$!
waited=0
until probe; do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "kubernetes-mcp-server exited before answering on port $MCP_PORT; its log:" >&2
    tail -n 20 "$state_dir/server.log" >&2
    exit 1
  fi
  if [ "$waited" -ge "$MCP_WAIT_SECONDS" ]; then
    kill "$pid"
    echo "kubernetes-mcp-server did not answer $health within $MCP_WAIT_SECONDS s" >&2
    exit 1
  fi
  sleep 1
  waited=$((waited + 1))
done
echo "$pid"
`;

// Stops only the process this stack started (checked by its command line, in case the pid was reused).
export const stopScript = `set -eu
state_dir="\${XDG_STATE_HOME:-$HOME/.local/state}/mcp-gateway-stack/$MCP_STACK"
pid="\${PULUMI_COMMAND_STDOUT:-}"
if [ -n "$pid" ] && ps -p "$pid" -o args= 2>/dev/null | grep -q -- "--port $MCP_PORT"; then
  kill "$pid"
  for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
fi
rm -f "$state_dir/kubeconfig"
`;

/** Environment of the start and stop scripts (the kubeconfig stays a secret). */
export function serverEnvironment(args: LocalMcpServerArgs, stack: string): Record<string, pulumi.Input<string>> {
  return {
    MCP_STACK: stack,
    MCP_PORT: String(args.port),
    MCP_TOOLSETS: args.toolsets.join(","),
    MCP_BINARY: args.binary,
    MCP_NODE: "node",
    MCP_WAIT_SECONDS: String(args.waitSeconds ?? 30),
    MCP_KUBECONFIG: args.kubeconfig,
  };
}

/**
 * kubernetes-mcp-server as a background process on the host: started and waited for on
 * create, stopped on delete. Any change of its settings restarts it (stop, then start).
 */
export class LocalMcpServer extends pulumi.ComponentResource {
  /** Pid of the running server. */
  public readonly pid: pulumi.Output<string>;
  public readonly port: number;

  constructor(name: string, args: LocalMcpServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mcp-gateway-stack:mcp:LocalMcpServer", name, {}, opts);
    this.port = args.port;
    const process = new command.local.Command(
      `${name}-process`,
      {
        create: startScript,
        delete: stopScript,
        environment: serverEnvironment(args, pulumi.getStack()),
        logging: "stderr",
      },
      { parent: this, replaceOnChanges: ["environment", "create"], deleteBeforeReplace: true },
    );
    this.pid = process.stdout.apply((s) => s.trim());
    this.registerOutputs({ pid: this.pid });
  }
}
