/** The test bed's scripts and processes: running a testbed/ script, loopback ports, `ps`. */
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { REPO_ROOT } from "./engine/engine";

/** Runs a testbed/ script (path relative to the repository) with bash; its stdout. */
export const runScript = (script: string, args: string[] = [], env: Record<string, string> = {}) =>
  execFileSync("bash", [path.join(REPO_ROOT, script), ...args], {
    cwd: REPO_ROOT,
    encoding: "utf8",
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });

/** `export NAME=value` lines (printf %q quoted) -> object. */
export function exportsOf(out: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const m of out.matchAll(/^export (\w+)=(.*)$/gm)) {
    vars[m[1]] = execFileSync("bash", ["-c", `printf %s ${m[2]}`], { encoding: "utf8" });
  }
  return vars;
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export function portAnswers(port: number): boolean {
  const probe = `require("net").connect(${port}, "127.0.0.1").on("connect", () => process.exit(0)).on("error", () => process.exit(1))`;
  try {
    execFileSync("node", ["-e", probe], { stdio: "ignore", timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

/** Command lines of running processes that contain every one of `parts`. */
export function processesWith(...parts: string[]): string[] {
  return execFileSync("ps", ["-eo", "stat=,args="], { encoding: "utf8" })
    .split("\n")
    .filter((l) => !l.trim().startsWith("Z") && parts.every((p) => l.includes(p)));
}

/**
 * A free loopback TCP port below the kernel's ephemeral range (32768 and up), so no port that the
 * test bed's servers pick at random later (etcd, kube-apiserver, Keycloak) can take it first.
 */
export function freePort(): number {
  const pick = `
    const net = require("net");
    const tryPort = () => {
      const port = 20000 + Math.floor(Math.random() * 12000);
      const s = net.createServer().once("error", tryPort).listen(port, "127.0.0.1", () => {
        console.log(port);
        s.close();
      });
    };
    tryPort();`;
  return Number(execFileSync("node", ["-e", pick], { encoding: "utf8" }).trim());
}
