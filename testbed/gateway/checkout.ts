/** The gateway repository of testbed/gateway/checkout.sh and its files at a tag. */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { scratchTmp } from "../engine/engine";
import { runScript } from "../processes";

/** The tags of testbed/gateway/checkout.sh's repository (the bundle's, or upstream's commits). */
export type GatewayTag = "guide-397bf8d" | "guide-fd2e9da" | "kuadrant-v0.9.0";

let repo: string | undefined;
/** Path of the gateway repository with the guide's tags (cloned once into the cache). */
export function gatewayRepo(): string {
  repo ??= runScript("testbed/gateway/checkout.sh").trim();
  return repo;
}

/** A file of the gateway repository at a tag, written to a temp file; its path. */
export function gatewayFile(tag: GatewayTag, file: string): string {
  const out = path.join(scratchTmp("mcp-gw-file-"), path.basename(file));
  fs.writeFileSync(out, execFileSync("git", ["-C", gatewayRepo(), "show", `${tag}:${file}`]));
  return out;
}
