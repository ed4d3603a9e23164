#!/usr/bin/env node
// Copies the upstream CRDs pinned in testbed/crds/pins.json into .cache/crds/ (gitignored) and
// records where each came from in .cache/crds/origin.json. The tests read them from there
// (test/support/schemas.ts). Run through `bash testbed/crds/fetch-crds.sh`.
//
// Source of each CRD, in order:
//   1. its Go module at the pinned version, fetched by the go command (`go mod download -json`),
//      so the Go module proxy and the checksum database vouch for the content;
//   2. only when the go command cannot get it, and the pin has a "git" entry: a local clone named
//      by its environment variable (gitDirEnv), else the repository the script "checkout" prints
//      (repo-relative; testbed/gateway/checkout.sh for the MCP Gateway: the offline bundle or
//      GitHub): `git show <rev>:<path>`, rev = the pinned commit when the clone has it, else the
//      tag "ref" (the bundle's snapshot commits have other hashes than upstream's).
// Either way the file must have the pinned sha256.
//
// Warm runs only hash the cached files: the go command is not started when they match the pins.
//
// Options: --force  fetch again even when the cache matches the pins.
// Environment: CRD_CACHE_DIR (default <repo>/.cache/crds), the pins' gitDirEnv variables, and the
// go command's own (GOPROXY, GOMODCACHE, GOFLAGS...).

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, posix, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
const pinsFile = join(here, "pins.json");
const cacheDir = resolve(process.env.CRD_CACHE_DIR || join(root, ".cache/crds"));
const originFile = join(cacheDir, "origin.json");
const force = process.argv.includes("--force");
const started = Date.now();

const sha256 = (buf) => createHash("sha256").update(buf).digest("hex");
const log = (msg) => process.stderr.write(`fetch-crds: ${msg}\n`);
const rel = (p) => {
  const r = relative(process.cwd(), p) || ".";
  return r.startsWith("..") ? p : r; // outside the working directory: the absolute path reads better
};

function fail(msg) {
  log(msg);
  process.exit(1);
}

function readPins() {
  let pins;
  try {
    pins = JSON.parse(readFileSync(pinsFile, "utf8"));
  } catch (e) {
    fail(`cannot read ${rel(pinsFile)}: ${e.message}`);
  }
  if (!Array.isArray(pins.crds) || pins.crds.length === 0) fail(`${rel(pinsFile)} has no "crds" list`);
  const names = new Set();
  for (const [i, p] of pins.crds.entries()) {
    for (const key of ["name", "module", "version", "commit", "path"]) {
      if (typeof p[key] !== "string" || p[key] === "") fail(`${rel(pinsFile)}: crds[${i}] needs a non-empty "${key}"`);
    }
    if (!/^[0-9a-f]{40}$/.test(p.commit)) fail(`${rel(pinsFile)}: ${p.name}: "commit" must be a full 40-hex commit id`);
    if (names.has(p.name)) fail(`${rel(pinsFile)}: ${p.name} is pinned twice`);
    names.add(p.name);
    p.file = posix.basename(p.path);
  }
  return pins.crds;
}

function readOrigin() {
  try {
    const o = JSON.parse(readFileSync(originFile, "utf8"));
    return o && typeof o.crds === "object" && o.crds ? o : { crds: {} };
  } catch {
    return { crds: {} };
  }
}

function cachedMatches(pin, origin) {
  const o = origin.crds[pin.name];
  if (!o || !pin.sha256) return false;
  for (const key of ["module", "version", "commit", "path", "sha256", "file"]) {
    if (o[key] !== pin[key]) return false;
  }
  const f = join(cacheDir, pin.file);
  return existsSync(f) && sha256(readFileSync(f)) === pin.sha256;
}

let goChecked;
function goAvailable() {
  if (goChecked === undefined) {
    const r = spawnSync("go", ["version"], { encoding: "utf8" });
    goChecked = r.error ? null : r.stdout.trim();
  }
  return goChecked;
}

function goEnv(name) {
  const r = spawnSync("go", ["env", name], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : "";
}

// -> { content, origin } or { error }
function viaGoModule(pin) {
  if (!goAvailable()) {
    return {
      error:
        "the go command is not on PATH (install Go >= 1.21; the script runs `go mod download -json <module>@<version>`)",
    };
  }
  const tmp = mkdtempSync(join(tmpdir(), "fetch-crds-"));
  try {
    const r = spawnSync("go", ["mod", "download", "-json", `${pin.module}@${pin.version}`], {
      cwd: tmp, // an empty directory: no go.mod around, nothing of the project is read
      encoding: "utf8",
      env: { ...process.env, GO111MODULE: "on", GOFLAGS: "-mod=mod", GOTOOLCHAIN: "local" },
      timeout: 300_000,
    });
    if (r.error) return { error: `go mod download failed to run: ${r.error.message}` };
    let info;
    try {
      info = JSON.parse(r.stdout);
    } catch {
      return { error: `go mod download ${pin.module}@${pin.version} said: ${(r.stderr || r.stdout).trim()}` };
    }
    if (info.Error || r.status !== 0) return { error: `go said: ${(info.Error || r.stderr).trim()}` };
    if (info.Version !== pin.version) {
      return { error: `go resolved ${pin.module}@${pin.version} to ${info.Version}: pin the exact version` };
    }
    const originHash = info.Origin && info.Origin.Hash;
    if (originHash && originHash !== pin.commit) {
      return { error: `${pin.module}@${pin.version} is commit ${originHash}, but pins.json says ${pin.commit}` };
    }
    const file = join(info.Dir, ...pin.path.split("/"));
    if (!existsSync(file)) return { error: `${pin.module}@${pin.version} has no file ${pin.path}` };
    return {
      content: readFileSync(file),
      origin: {
        via: "go-module",
        goproxy: goEnv("GOPROXY"),
        moduleSum: info.Sum,
        moduleOriginHash: originHash || null,
      },
    };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function viaGit(pin) {
  if (!pin.git) return null;
  const envName = pin.git.gitDirEnv;
  let dir = envName && process.env[envName];
  let from = `${envName}=${dir}`;
  if (!dir && pin.git.checkout) {
    // The script prints the repository's path on stdout; its progress goes to our stderr.
    from = pin.git.checkout;
    const r = spawnSync("bash", [resolve(root, pin.git.checkout)], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
      timeout: 600_000,
    });
    if (r.error || r.status !== 0)
      return { error: `${from} failed (${r.error ? r.error.message : `exit ${r.status}`})` };
    dir = r.stdout.trim();
  }
  if (!dir) return null;
  const git = (args, enc = "utf8") => spawnSync("git", ["-C", dir, ...args], { encoding: enc, maxBuffer: 64 << 20 });
  const resolveRev = (rev) => {
    const r = git(["rev-parse", "-q", "--verify", `${rev}^{commit}`]);
    if (r.error) return { error: `${from}: git is not on PATH` };
    return r.status === 0 ? { rev, commit: r.stdout.trim() } : null;
  };
  const found = resolveRev(pin.commit) || (pin.git.ref && resolveRev(pin.git.ref));
  if (!found)
    return {
      error: `${from}: ${dir} is not a git clone holding commit ${pin.commit}${pin.git.ref ? ` or tag ${pin.git.ref}` : ""} (git fetch it)`,
    };
  if (found.error) return found;
  const show = git(["show", `${found.rev}:${pin.path}`], "buffer");
  if (show.status !== 0) return { error: `${from}: ${found.rev} in ${dir} has no ${pin.path}` };
  return {
    content: show.stdout,
    origin: { via: "git", gitDir: resolve(dir), gitRev: found.rev, gitCommit: found.commit, repository: pin.git.url },
  };
}

function writeAtomic(file, data) {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}

const pins = readPins();
const origin = readOrigin();
const stale = pins.filter((p) => force || !cachedMatches(p, origin));

if (stale.length === 0) {
  log(`${pins.length} CRDs in ${rel(cacheDir)} match testbed/crds/pins.json (${Date.now() - started} ms)`);
  process.exit(0);
}

mkdirSync(cacheDir, { recursive: true });
const next = { $comment: "Written by testbed/crds/fetch-crds.mjs from testbed/crds/pins.json. Do not edit.", crds: {} };
for (const p of pins) if (!stale.includes(p) && origin.crds[p.name]) next.crds[p.name] = origin.crds[p.name];

const problems = [];
for (const pin of stale) {
  const id = `${pin.module}@${pin.version}`;
  log(`${pin.name}: ${id} ${pin.path}`);
  const fromGo = viaGoModule(pin);
  let got = fromGo.content ? fromGo : null;
  let fromGit = null;
  if (!got) {
    fromGit = viaGit(pin);
    if (fromGit && fromGit.content) {
      log(
        `  the go command could not get it (${fromGo.error.split("\n")[0]}); taking it from ${rel(fromGit.origin.gitDir)} at ${fromGit.origin.gitRev}`,
      );
      got = fromGit;
    }
  }
  if (!got) {
    const todo = goAvailable()
      ? [
          `check which versions the Go module proxy serves: go list -m -versions ${pin.module}   (GOPROXY=${goEnv("GOPROXY")})`,
          `or move the pin in testbed/crds/pins.json to a version that is served (module, version, commit and sha256 together)`,
        ]
      : [`install Go (https://go.dev/doc/install) or put its bin directory on PATH`];
    if (pin.git) {
      todo.push(
        `or set ${pin.git.gitDirEnv} to a clone of ${pin.git.url} that has commit ${pin.commit.slice(0, 12)} and run again` +
          (pin.git.checkout ? ` (without it the script reads the repository ${pin.git.checkout} prints)` : ""),
      );
    }
    problems.push(
      [
        `cannot get CRD ${pin.name} (${pin.kind || "?"})`,
        `  module:  ${pin.module}`,
        `  version: ${pin.version} (commit ${pin.commit})`,
        `  file:    ${pin.path}`,
        `  ${fromGo.error.replace(/\n/g, "\n  ")}`,
        ...(fromGit && fromGit.error ? [`  ${fromGit.error}`] : []),
        `  what to do:`,
        ...todo.map((t) => `    - ${t}`),
      ].join("\n"),
    );
    continue;
  }
  const sum = sha256(got.content);
  if (!pin.sha256) {
    problems.push(
      `${pin.name}: pins.json has no sha256; the file from ${id} has sha256 ${sum}: review it and record that`,
    );
    continue;
  }
  if (sum !== pin.sha256) {
    problems.push(
      `${pin.name}: ${pin.path} from ${id} (${got.origin.via}) has sha256 ${sum}, but pins.json says ${pin.sha256}: ` +
        `the pin and the content disagree; check the commit and version in pins.json`,
    );
    continue;
  }
  writeAtomic(join(cacheDir, pin.file), got.content);
  next.crds[pin.name] = {
    file: pin.file,
    module: pin.module,
    version: pin.version,
    commit: pin.commit,
    path: pin.path,
    sha256: sum,
    ...got.origin,
    fetchedAt: new Date().toISOString(),
  };
}

writeAtomic(originFile, JSON.stringify(next, null, 2) + "\n");
const keep = new Set(["origin.json", ...Object.values(next.crds).map((o) => o.file)]);
for (const f of readdirSync(cacheDir)) if (f.endsWith(".yaml") && !keep.has(f)) rmSync(join(cacheDir, f));

const ok = Object.keys(next.crds).length;
// A pin marked unavailableIsWarning (no registry serves it) may be missing: its tests then report themselves skipped.
const blocking = problems.filter(
  (p) => !pins.some((pin) => pin.unavailableIsWarning && p.startsWith(`cannot get CRD ${pin.name} `)),
);
for (const p of problems.filter((x) => !blocking.includes(x))) {
  const pin = pins.find((x) => p.startsWith(`cannot get CRD ${x.name} `));
  log(`warning: ${p.split("\n")[0]}: ${pin.unavailableIsWarning}`);
}
if (blocking.length) {
  for (const p of blocking) log(p);
  fail(`${ok} of ${pins.length} CRDs in ${rel(cacheDir)}; ${blocking.length} missing (${Date.now() - started} ms)`);
}
log(`${ok} CRDs written to ${rel(cacheDir)} (${Date.now() - started} ms)`);
