import { spawn, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";

// testbed/progress.sh, the progress lines of the test bed's build scripts, on fake builds: a
// heartbeat every MCP_PROGRESS_INTERVAL seconds (1 here) on stderr, stdout left alone, the build's
// exit code kept, and no heartbeat left behind.
const HELPER = path.resolve("testbed/progress.sh");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "progress-"));
const secondsFile = path.join(dir, "fake.seconds");

// Each run's processes carry a marker in their environment, so the test can find what outlives it.
let mark = "";
const env = () => {
  mark = randomUUID();
  return { ...process.env, MCP_PROGRESS_INTERVAL: "1", PROGRESS_TEST_MARK: mark };
};
const script = (body: string) => `set -euo pipefail; . ${JSON.stringify(HELPER)}; PROGRESS_PREFIX=fake; ${body}`;
const run = (body: string, extraEnv: Record<string, string> = {}) =>
  spawnSync("bash", ["-c", script(body)], { env: { ...env(), ...extraEnv }, encoding: "utf8", timeout: 20_000 });

// Live processes whose environment holds the marker: pid and command name.
function marked(m: string): { pid: number; comm: string }[] {
  const found: { pid: number; comm: string }[] = [];
  for (const p of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (!fs.readFileSync(`/proc/${p}/environ`, "latin1").includes(`PROGRESS_TEST_MARK=${m}\0`)) continue;
      found.push({ pid: Number(p), comm: fs.readFileSync(`/proc/${p}/comm`, "utf8").trim() });
    } catch {
      // gone meanwhile, or not ours
    }
  }
  return found;
}
const heartbeatLines = (stderr: string) => stderr.split("\n").filter((l) => l.startsWith("fake: still "));
const seconds = (line: string) => Number(/: (\d+)s so far/.exec(line)?.[1]);

afterEach(() => {
  for (const p of marked(mark)) process.kill(p.pid, "SIGKILL");
});

describe("testbed/progress.sh", () => {
  it("says what it builds, then a heartbeat with the elapsed time while the build runs; stdout untouched", () => {
    const start = Date.now();
    const r = run(
      `progress_run "building fake" "for the test" ${JSON.stringify(secondsFile)} 9 - sh -c 'echo out; sleep 3.5'`,
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe("out\n");
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines[0]).toBe("fake: building fake (for the test): about 9s (measured on 2 cores)");
    const beats = heartbeatLines(r.stderr);
    expect(beats.length).toBeGreaterThanOrEqual(2);
    for (const b of beats)
      expect(b).toMatch(/^fake: still building fake: \d+s so far, about 9s in all \(measured on 2 cores\)$/);
    // One line per interval, in order, from 1 s on.
    expect(beats.map(seconds)).toEqual(beats.map((_, i) => i + 1));
    expect(lines.at(-1)).toMatch(/^fake: building fake: done in [34]s$/);
    // The duration is recorded: the next such build's estimate.
    expect(fs.readFileSync(secondsFile, "utf8")).toMatch(/^[34]\n$/);
    // Ends with the build, not up to an interval later, and leaves nothing running.
    expect(Date.now() - start).toBeLessThan(6_000);
    expect(marked(mark)).toEqual([]);
  });

  it("a failing build keeps its exit code, records nothing, and its heartbeat ends", () => {
    fs.writeFileSync(secondsFile, "240\n");
    const r = run(
      `progress_run "building fake" "" ${JSON.stringify(secondsFile)} 9 - sh -c 'sleep 1.5; exit 7' || echo "rc=$?"`,
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe("rc=7\n");
    // The estimate is the last build's recorded duration.
    expect(r.stderr).toContain("fake: building fake: about 4m00s (its last build here)\n");
    expect(heartbeatLines(r.stderr)[0]).toEqual(
      "fake: still building fake: 1s so far, about 4m00s in all (its last build here)",
    );
    expect(r.stderr).not.toContain("done in");
    expect(fs.readFileSync(secondsFile, "utf8")).toBe("240\n");
    expect(marked(mark)).toEqual([]);
  });

  it("its lines go to MCP_PROGRESS_FD when that descriptor is open (sandbox.sh), else to stderr", () => {
    const body = `progress_run "building fake" "" "" 1 - sh -c 'echo out; echo err >&2; sleep 2.3'`;
    const viaFd3 = spawnSync("bash", ["-c", script(body)], {
      env: { ...env(), MCP_PROGRESS_FD: "3" },
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe", "pipe"],
      timeout: 20_000,
    });
    expect(viaFd3.status, viaFd3.stderr).toBe(0);
    expect(viaFd3.stdout).toBe("out\n");
    expect(viaFd3.stderr).toBe("err\n");
    // Past the estimate, the heartbeat says so.
    expect(heartbeatLines(String(viaFd3.output[3])).slice(0, 2)).toEqual([
      "fake: still building fake: 1s so far, about 1s in all (measured on 2 cores)",
      "fake: still building fake: 2s so far, longer than the 1s (measured on 2 cores)",
    ]);
    // Descriptor 8 is not open here: stderr.
    const closed = run(body, { MCP_PROGRESS_FD: "8" });
    expect(closed.status, closed.stderr).toBe(0);
    expect(heartbeatLines(closed.stderr).length).toBeGreaterThanOrEqual(2);
  });

  it("the heartbeat ends within a second or so when the script running the build is killed", async () => {
    const child = spawn("bash", ["-c", script(`progress_run "building fake" "" "" 9 - sleep 30`)], {
      env: env(),
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    await new Promise((r) => setTimeout(r, 1_500));
    const exited = new Promise((r) => child.on("exit", r));
    child.kill("SIGTERM");
    await exited;
    const deadline = Date.now() + 2_500;
    while (marked(mark).some((p) => p.comm !== "sleep") && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(heartbeatLines(stderr).length).toBeGreaterThanOrEqual(1);
    // Only the build itself (sleep 30, which a killed shell leaves as it would without the helper)
    // is left; afterEach kills it.
    expect(marked(mark).map((p) => p.comm)).toEqual(["sleep"]);
  });
});
