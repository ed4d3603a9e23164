// Validates the Kubernetes objects the stack declares against their real schemas.
//
//   core and rbac types          kubernetes-models (the Kubernetes OpenAPI schemas)
//   Gateway API v1 (HTTPRoute…)  @kubernetes-models/gateway-api
//   Istio networking v1beta1     @kubernetes-models/istio
//   AuthPolicy, MCPServer        the upstream CRDs pinned in testbed/crds/pins.json, copied into
//                                .cache/crds/ by `bash testbed/crds/fetch-crds.sh`, compiled with ajv
//
// For the CRD-based kinds the check is closer to what the API server does on `kubectl apply`:
// defaults are applied first (on a copy), unknown fields are errors (kubectl's default
// --validate=strict; without it the API server prunes them silently), and the CRD's CEL rules
// (x-kubernetes-validations) are evaluated with @marcbachmann/cel-js, except transition rules
// (those using oldSelf), which only apply to updates. The kubernetes-models validators check types,
// enums and required fields but accept unknown fields.

import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parse as parseCel } from "@marcbachmann/cel-js";
import * as gatewayV1 from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1";
import * as istioNetworkingV1beta1 from "@kubernetes-models/istio/networking.istio.io/v1beta1";
import Ajv, { type ErrorObject, type ValidateFunction } from "ajv";
import * as appsV1 from "kubernetes-models/apps/v1";
import * as rbacV1 from "kubernetes-models/rbac.authorization.k8s.io/v1";
import * as coreV1 from "kubernetes-models/v1";
import { parseAllDocuments } from "yaml";

// __dirname rather than import.meta: vitest provides it, and it type-checks under a CommonJS tsconfig.
const repoRoot = resolve(__dirname, "../..");
const pinsFile = join(repoRoot, "testbed/crds/pins.json");
const cacheDir = resolve(process.env.CRD_CACHE_DIR || join(repoRoot, ".cache/crds"));
const FETCH_HINT = "run `bash testbed/crds/fetch-crds.sh`";

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

// ---------------------------------------------------------------------------------------------
// Error messages

/** "/spec/ports/0/port" -> "spec.ports[0].port" */
function jsonPointerToPath(pointer: string): string {
  if (!pointer) return "";
  return pointer
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce((acc, seg) => {
      if (/^\d+$/.test(seg)) return `${acc}[${seg}]`;
      if (!/^[A-Za-z0-9_-]+$/.test(seg)) return `${acc}[${JSON.stringify(seg)}]`; // "app.kubernetes.io/name"
      return acc ? `${acc}.${seg}` : seg;
    }, "");
}

function valueAt(root: unknown, pointer: string): unknown {
  let cur = root;
  for (const seg of pointer ? pointer.slice(1).split("/") : []) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Obj)[seg.replace(/~1/g, "/").replace(/~0/g, "~")];
  }
  return cur;
}

function formatError(e: ErrorObject, data: unknown): string {
  const path = jsonPointerToPath(e.instancePath);
  const at = (p: string) => p || "(root)";
  const got = () => {
    const v = valueAt(data, e.instancePath);
    return v === undefined ? "" : ` (got ${JSON.stringify(v)})`;
  };
  switch (e.keyword) {
    case "required":
      return `${at(path ? `${path}.${e.params.missingProperty}` : String(e.params.missingProperty))}: required field is missing`;
    case "additionalProperties":
      return `${at(path ? `${path}.${e.params.additionalProperty}` : String(e.params.additionalProperty))}: unknown field`;
    case "enum":
      return `${at(path)}: must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}${got()}`;
    case "type":
      return `${at(path)}: must be ${e.params.type}${got()}`;
    default:
      return `${at(path)}: ${e.message ?? e.keyword}${e.keyword === "x-kubernetes-validations" ? "" : got()}`;
  }
}

const formatErrors = (errors: ErrorObject[] | null | undefined, data: unknown): string[] => [
  ...new Set((errors ?? []).map((e) => formatError(e, data))),
];

// ---------------------------------------------------------------------------------------------
// kubernetes-models

interface ModelClass {
  apiVersion: string;
  kind: string;
  new (data: unknown): { validate(): void };
}

const modelGroups: Record<string, Obj> = {
  v1: coreV1,
  "apps/v1": appsV1,
  "rbac.authorization.k8s.io/v1": rbacV1,
  "gateway.networking.k8s.io/v1": gatewayV1,
  "networking.istio.io/v1beta1": istioNetworkingV1beta1,
};

function findModel(apiVersion: string, kind: string): ModelClass | undefined {
  const candidate = modelGroups[apiVersion]?.[kind];
  if (typeof candidate !== "function") return undefined;
  const model = candidate as unknown as ModelClass;
  if (model.apiVersion === apiVersion && model.kind === kind) return model;
  return undefined;
}

function validateWithModel(Model: ModelClass, obj: Obj): string[] {
  try {
    new Model(obj).validate();
    return [];
  } catch (err) {
    const errors = (err as { errors?: ErrorObject[] }).errors;
    if (Array.isArray(errors)) return formatErrors(errors, obj);
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// CRDs from the cache

interface Pin {
  name: string;
  group: string;
  kind: string;
  module: string;
  version: string;
  commit: string;
  path: string;
  sha256: string;
}

interface CrdVersion {
  name: string;
  served?: boolean;
  schema?: { openAPIV3Schema?: Obj };
}

let pinsCache: Pin[] | undefined;
function pins(): Pin[] {
  pinsCache ??= (JSON.parse(readFileSync(pinsFile, "utf8")) as { crds: Pin[] }).crds;
  return pinsCache;
}

const findPin = (group: string, kind: string) => pins().find((p) => p.group === group && p.kind === kind);

/** ObjectMeta as the API server takes it on create/apply (the CRDs only say `type: object`). */
const stringMap = { type: "object", additionalProperties: { type: "string" } };
const objectMeta = {
  type: "object",
  additionalProperties: false,
  properties: {
    name: { type: "string" },
    generateName: { type: "string" },
    namespace: { type: "string" },
    selfLink: { type: "string" },
    uid: { type: "string" },
    resourceVersion: { type: "string" },
    generation: { type: "integer" },
    creationTimestamp: { type: ["string", "null"] },
    deletionTimestamp: { type: ["string", "null"] },
    deletionGracePeriodSeconds: { type: "integer" },
    labels: stringMap,
    annotations: stringMap,
    ownerReferences: {
      type: "array",
      items: {
        type: "object",
        required: ["apiVersion", "kind", "name", "uid"],
        properties: {
          apiVersion: { type: "string" },
          kind: { type: "string" },
          name: { type: "string" },
          uid: { type: "string" },
          controller: { type: "boolean" },
          blockOwnerDeletion: { type: "boolean" },
        },
      },
    },
    finalizers: { type: "array", items: { type: "string" } },
    managedFields: { type: "array", items: { type: "object" } },
  },
};

/** Unknown fields are errors, as with kubectl's default --validate=strict: close every object
 * schema that lists its properties, unless it preserves unknown fields. Schemas under
 * allOf/anyOf/oneOf/not stay open (structural schemas repeat their properties outside). */
function closeObjects(schema: unknown, inCombinator = false): void {
  if (!isObject(schema)) return;
  if (
    !inCombinator &&
    isObject(schema.properties) &&
    schema.additionalProperties === undefined &&
    schema["x-kubernetes-preserve-unknown-fields"] !== true
  ) {
    schema.additionalProperties = false;
  }
  if (isObject(schema.properties)) for (const p of Object.values(schema.properties)) closeObjects(p, inCombinator);
  if (isObject(schema.items)) closeObjects(schema.items, inCombinator);
  if (isObject(schema.additionalProperties)) closeObjects(schema.additionalProperties, inCombinator);
  for (const key of ["allOf", "anyOf", "oneOf"]) {
    const subs = schema[key];
    if (Array.isArray(subs)) for (const s of subs) closeObjects(s, true);
  }
  if (isObject(schema.not)) closeObjects(schema.not, true);
}

/** CEL sees integers as int (BigInt in cel-js), as the API server does. */
function toCel(v: unknown): unknown {
  if (typeof v === "number" && Number.isInteger(v)) return BigInt(v);
  if (Array.isArray(v)) return v.map(toCel);
  if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toCel(x)]));
  return v;
}

interface CelRule {
  rule: string;
  message?: string;
}

function newAjv(): Ajv {
  const ajv = new Ajv({ strict: false, allErrors: true, useDefaults: true, logger: false });
  const intFormat = (bits: number) => ({
    type: "number" as const,
    validate: (n: number) => Number.isInteger(n) && Math.abs(n) <= 2 ** (bits - 1),
  });
  ajv.addFormat("int32", intFormat(32));
  ajv.addFormat("int64", intFormat(64));
  ajv.addFormat("float", { type: "number", validate: () => true });
  ajv.addFormat("double", { type: "number", validate: () => true });
  ajv.addFormat("date-time", /^\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)$/);
  ajv.addFormat("byte", /^[A-Za-z0-9+/]*={0,2}$/);
  ajv.addKeyword({
    keyword: "x-kubernetes-validations",
    schemaType: "array",
    errors: true,
    compile(rules: CelRule[]) {
      const checks = rules
        .filter((r) => !/\boldSelf\b/.test(r.rule)) // transition rules: updates only
        .map((r) => {
          try {
            const run = parseCel(r.rule);
            return { ...r, run: (self: unknown) => run({ self: toCel(self) }) };
          } catch (err) {
            const msg = (err as Error).message;
            return {
              ...r,
              run: (): unknown => {
                throw new Error(`cannot parse: ${msg}`);
              },
            };
          }
        });
      const fn: ((data: unknown) => boolean) & { errors?: Partial<ErrorObject>[] } = (data) => {
        const errors: Partial<ErrorObject>[] = [];
        for (const c of checks) {
          let ok: unknown;
          try {
            ok = c.run(data);
          } catch (err) {
            errors.push({
              keyword: "x-kubernetes-validations",
              message: `CEL rule could not be evaluated here (${c.rule}): ${(err as Error).message}`,
              params: { rule: c.rule },
            });
            continue;
          }
          if (ok !== true) {
            errors.push({
              keyword: "x-kubernetes-validations",
              message: c.message ?? `failed rule: ${c.rule}`,
              params: { rule: c.rule },
            });
          }
        }
        fn.errors = errors;
        return errors.length === 0;
      };
      return fn;
    },
  });
  return ajv;
}

interface CrdValidators {
  pin: Pin;
  versions: Map<string, ValidateFunction>;
}

const crdValidators = new Map<string, CrdValidators>();

function cacheError(pin: Pin, problem: string): Error {
  return new Error(
    `CRD cache ${cacheDir}: ${problem} for ${pin.name} (pinned ${pin.module}@${pin.version}, ${pin.path}); ${FETCH_HINT}`,
  );
}

function loadCrd(pin: Pin): CrdValidators {
  const cached = crdValidators.get(pin.name);
  if (cached) return cached;

  const originFile = join(cacheDir, "origin.json");
  if (!existsSync(originFile)) throw cacheError(pin, "no origin.json");
  const origin = (JSON.parse(readFileSync(originFile, "utf8")) as { crds?: Record<string, Obj> }).crds?.[pin.name];
  if (!origin) throw cacheError(pin, "nothing cached");
  for (const key of ["module", "version", "commit", "path", "sha256"] as const) {
    if (origin[key] !== pin[key]) throw cacheError(pin, `cached ${key} ${String(origin[key])} is not the pinned one`);
  }
  const file = join(cacheDir, String(origin.file));
  if (!existsSync(file)) throw cacheError(pin, `no file ${String(origin.file)}`);
  const text = readFileSync(file);
  if (createHash("sha256").update(text).digest("hex") !== pin.sha256) throw cacheError(pin, "sha256 mismatch");

  const crd = parseAllDocuments(text.toString("utf8"))
    .map((d) => d.toJS() as Obj | null)
    .find((d) => d?.kind === "CustomResourceDefinition");
  const spec = crd?.spec as { group?: string; names?: { kind?: string }; versions?: CrdVersion[] } | undefined;
  if (!spec || spec.group !== pin.group || spec.names?.kind !== pin.kind) {
    throw new Error(`${file} is not the CRD of ${pin.group}/${pin.kind} (testbed/crds/pins.json says it is)`);
  }

  const ajv = newAjv();
  const versions = new Map<string, ValidateFunction>();
  for (const v of spec.versions ?? []) {
    if (v.served === false || !v.schema?.openAPIV3Schema) continue;
    const schema = structuredClone(v.schema.openAPIV3Schema);
    const props = (schema.properties ??= {}) as Obj;
    props.metadata = objectMeta;
    props.apiVersion = { type: "string", const: `${pin.group}/${v.name}` };
    props.kind = { type: "string", const: pin.kind };
    schema.required = [...new Set([...((schema.required as string[]) ?? []), "apiVersion", "kind"])];
    closeObjects(schema);
    versions.set(v.name, ajv.compile(schema));
  }
  const loaded = { pin, versions };
  crdValidators.set(pin.name, loaded);
  return loaded;
}

function validateWithCrd(pin: Pin, version: string, obj: Obj): string[] {
  const { versions } = loadCrd(pin);
  const validate = versions.get(version);
  if (!validate) {
    return [
      `no schema for ${String(obj.apiVersion)}/${pin.kind}: the pinned CRD ${pin.name} (${pin.module}@${pin.version}) serves ${[...versions.keys()].join(", ")}`,
    ];
  }
  const copy = structuredClone(obj); // ajv applies the CRD's defaults to what it validates
  return validate(copy) ? [] : formatErrors(validate.errors, copy);
}

// ---------------------------------------------------------------------------------------------
// API

/**
 * Validates one Kubernetes object against the schema of its apiVersion and kind.
 * Returns the error messages ("spec.ports[0].port: must be integer (got \"abc\")"), [] when valid.
 * Throws when the object is a CRD kind whose CRD is not in the cache (run
 * `bash testbed/crds/fetch-crds.sh`).
 */
export function validateManifest(obj: unknown): string[] {
  if (!isObject(obj)) return ["(root): a Kubernetes object must be a JSON object"];
  const { apiVersion, kind } = obj;
  if (typeof apiVersion !== "string" || typeof kind !== "string") {
    return [`no schema for ${String(apiVersion)}/${String(kind)}: apiVersion and kind must be strings`];
  }
  const Model = findModel(apiVersion, kind);
  if (Model) return validateWithModel(Model, obj);

  const slash = apiVersion.indexOf("/");
  if (slash > 0) {
    const pin = findPin(apiVersion.slice(0, slash), kind);
    if (pin) return validateWithCrd(pin, apiVersion.slice(slash + 1), obj);
  }
  return [`no schema for ${apiVersion}/${kind}`];
}

/**
 * Validates one Gateway listener (what the stack patches into the Gateway it does not own)
 * against the Gateway API v1 Gateway schema, inside a Gateway of its own.
 * Messages start with "listener" ("listener.port: must be integer").
 */
export function validateGatewayListener(listener: unknown): string[] {
  if (!isObject(listener)) return ["listener: must be an object"];
  const gateway = {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "Gateway",
    metadata: { name: "x" },
    spec: { gatewayClassName: "x", listeners: [listener] },
  };
  return validateManifest(gateway).map((m) => m.replace(/^spec\.listeners\[0\]/, "listener"));
}

/** The CRDs validateManifest takes from the cache: group, kind and where each comes from. */
export function pinnedCrds(): ReadonlyArray<Readonly<Pin>> {
  return pins();
}
