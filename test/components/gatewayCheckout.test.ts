import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { checkoutScript } from "../../components/gatewayCheckout";

// The checkout step run for real against a local repository standing in for the gateway's.
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "gateway-checkout-"));
const upstream = path.join(tmp, "upstream");
const git = (cwd: string, ...args: string[]) =>
  execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], { cwd, encoding: "utf8" }).trim();

fs.mkdirSync(upstream);
git(upstream, "init", "-q", "-b", "main");
fs.writeFileSync(path.join(upstream, "Makefile"), "local-env-setup:\n\ttrue\n");
git(upstream, "add", ".");
git(upstream, "commit", "-qm", "pinned");
const pinned = git(upstream, "rev-parse", "HEAD");
fs.writeFileSync(path.join(upstream, "Makefile"), "changed\n");
git(upstream, "commit", "-qam", "later");

const checkout = (dir: string, ref = pinned) =>
  spawnSync("bash", ["-c", checkoutScript], {
    cwd: tmp,
    env: { ...process.env, GATEWAY_REPO: upstream, GATEWAY_REF: ref, GATEWAY_DIR: dir },
    encoding: "utf8",
  });

describe("the MCP Gateway checkout step", () => {
  it("clones the repository when the directory is missing and checks out the pinned commit", () => {
    const result = checkout("mcp-gateway");
    expect(result.status).toBe(0);
    expect(result.stdout).toBe(`${fs.realpathSync(path.join(tmp, "mcp-gateway"))}\n`);
    expect(git(path.join(tmp, "mcp-gateway"), "rev-parse", "HEAD")).toBe(pinned);
  });

  it("reuses an existing checkout and moves it back to the pin", () => {
    const dir = path.join(tmp, "mcp-gateway");
    git(dir, "checkout", "-q", "main");
    const result = checkout("mcp-gateway");
    expect(result.status).toBe(0);
    expect(git(dir, "rev-parse", "HEAD")).toBe(pinned);
  });

  it("fails on a ref the repository does not have", () => {
    const result = checkout("mcp-gateway", "0000000000000000000000000000000000000000");
    expect(result.status).not.toBe(0);
    expect(result.stdout).toBe("");
  });

  it("checks out a tag, and never reads a ref or URL starting with '-' as a git option", () => {
    git(upstream, "tag", "guide-pin", pinned);
    const dir = path.join(tmp, "tagged");
    expect(checkout("tagged", "guide-pin").status).toBe(0);
    expect(git(dir, "rev-parse", "HEAD")).toBe(pinned);
    const marker = path.join(tmp, "pwned");
    const evilRef = checkout("tagged", `--output=${marker}`);
    expect(evilRef.status).not.toBe(0);
    const evilUrl = spawnSync("bash", ["-c", checkoutScript], {
      cwd: tmp,
      env: { ...process.env, GATEWAY_REPO: `--upload-pack=touch ${marker}`, GATEWAY_REF: pinned, GATEWAY_DIR: "evil" },
      encoding: "utf8",
    });
    expect(evilUrl.status).not.toBe(0);
    expect(fs.existsSync(marker)).toBe(false);
  });
});
