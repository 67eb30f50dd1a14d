#!/usr/bin/env node
// Validates an OpenAPI 3.1 document: node validate-openapi.js FILE. Exit 0 when valid; otherwise
// prints every problem on stderr and exits 1 (2 for a usage error).
//
// Three layers, because the official OpenAPI 3.1 JSON Schema does not look inside Schema Objects:
//  1. @seriousme/openapi-schema-validator: the document against the OAS 3.1 schema, and every
//     internal $ref resolves.
//  2. Rules of the specification no JSON Schema can state: operationIds are unique, and each path
//     template's {parameters} and the declared path parameters match both ways.
//  3. Every Schema Object compiles as JSON Schema 2020-12 under Ajv's strict mode (unknown keywords,
//     wrong types of keywords, `required` naming undeclared properties, refs that do not resolve).
import { readFileSync } from "node:fs";
import { Validator } from "@seriousme/openapi-schema-validator";
import Ajv2020 from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";

const addFormats = addFormatsModule.default ?? addFormatsModule;
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
const COMPONENTS_ID = "https://openapi.invalid/components.json";

function fail(errors) {
  for (const e of errors) console.error(typeof e === "string" ? e : JSON.stringify(e));
  console.error(`openapi: INVALID (${errors.length} problem(s))`);
  process.exit(1);
}

// Follows a local "#/a/b" reference inside `doc`.
function deref(doc, value) {
  let seen = 0;
  while (value && typeof value.$ref === "string" && value.$ref.startsWith("#/") && seen++ < 32) {
    value = value.$ref
      .slice(2)
      .split("/")
      .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"))
      .reduce((node, key) => (node === undefined ? undefined : node[key]), doc);
  }
  return value;
}

function semanticErrors(doc) {
  const errors = [];
  const ids = new Map();
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    const templated = new Set([...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]));
    const shared = (item.parameters ?? []).map((p) => deref(doc, p));
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const where = `${method.toUpperCase()} ${path}`;
      if (op.operationId) {
        if (ids.has(op.operationId)) {
          errors.push(`${where}: operationId '${op.operationId}' is also used by ${ids.get(op.operationId)}`);
        }
        ids.set(op.operationId, where);
      }
      const params = [...shared, ...(op.parameters ?? []).map((p) => deref(doc, p))];
      const declared = new Set(params.filter((p) => p && p.in === "path").map((p) => p.name));
      for (const name of templated) {
        if (!declared.has(name)) errors.push(`${where}: path parameter '${name}' is not declared`);
      }
      for (const name of declared) {
        if (!templated.has(name)) errors.push(`${where}: path parameter '${name}' is not in the path`);
      }
      for (const p of params) {
        if (p && p.in === "path" && p.required !== true) {
          errors.push(`${where}: path parameter '${p.name}' must be required`);
        }
      }
    }
  }
  return errors;
}

// Every Schema Object in the document, with where it is: components, parameters, headers and media types.
function schemaLocations(doc) {
  const out = [];
  const fromContent = (content, where) => {
    for (const [type, media] of Object.entries(content ?? {})) {
      if (media.schema !== undefined) out.push([`${where}.content[${type}]`, media.schema]);
    }
  };
  const fromHeaders = (headers, where) => {
    for (const [name, h] of Object.entries(headers ?? {})) {
      if (h.schema !== undefined) out.push([`${where}.headers.${name}`, h.schema]);
    }
  };
  const fromParams = (params, where) => {
    (params ?? []).forEach((p, i) => {
      if (p.schema !== undefined) out.push([`${where}.parameters[${i}]`, p.schema]);
      fromContent(p.content, `${where}.parameters[${i}]`);
    });
  };
  const fromResponses = (responses, where) => {
    for (const [status, r] of Object.entries(responses ?? {})) {
      fromContent(r.content, `${where}.responses.${status}`);
      fromHeaders(r.headers, `${where}.responses.${status}`);
    }
  };
  const c = doc.components ?? {};
  for (const name of Object.keys(c.schemas ?? {})) {
    out.push([`components.schemas.${name}`, { $ref: `#/components/schemas/${name}` }]);
  }
  fromParams(Object.values(c.parameters ?? {}), "components");
  fromResponses(c.responses, "components");
  fromHeaders(c.headers, "components");
  for (const [name, b] of Object.entries(c.requestBodies ?? {})) fromContent(b.content, `components.requestBodies.${name}`);
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    fromParams(item.parameters, path);
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const where = `${method.toUpperCase()} ${path}`;
      fromParams(op.parameters, where);
      if (op.requestBody) fromContent(op.requestBody.content, `${where}.requestBody`);
      fromResponses(op.responses, where);
    }
  }
  return out;
}

// Rewrites "#/components/schemas/X" into an absolute reference to the components schema below.
function absoluteRefs(value) {
  if (Array.isArray(value)) return value.map(absoluteRefs);
  if (value === null || typeof value !== "object") return value;
  const out = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === "$ref" && typeof v === "string" && v.startsWith("#/components/schemas/")) {
      out[k] = `${COMPONENTS_ID}#/$defs/${v.slice("#/components/schemas/".length)}`;
    } else {
      out[k] = absoluteRefs(v);
    }
  }
  return out;
}

function schemaErrors(doc) {
  const errors = [];
  const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
  addFormats(ajv);
  ajv.addFormat("media-range", true);
  // The OpenAPI 3.1 dialect's own keywords (https://spec.openapis.org/oas/3.1/dialect/base).
  ajv.addVocabulary(["discriminator", "xml", "externalDocs", "example"]);
  try {
    ajv.addSchema({ $id: COMPONENTS_ID, $defs: absoluteRefs(doc.components?.schemas ?? {}) });
  } catch (e) {
    return [`components.schemas: ${e.message}`];
  }
  for (const [where, schema] of schemaLocations(doc)) {
    try {
      ajv.compile(absoluteRefs(schema));
    } catch (e) {
      errors.push(`${where}: ${e.message}`);
    }
  }
  return errors;
}

async function main() {
  const file = process.argv[2];
  if (!file || process.argv.length > 3) {
    console.error("usage: node validate-openapi.js FILE");
    process.exit(2);
  }
  let doc;
  try {
    doc = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    fail([`${file}: not JSON: ${e.message}`]);
  }
  if (typeof doc.openapi !== "string" || !/^3\.1\.\d+$/.test(doc.openapi)) {
    fail([`openapi must be 3.1.x, not ${JSON.stringify(doc.openapi)}`]);
  }
  const validator = new Validator();
  const result = await validator.validate(structuredClone(doc));
  if (!result.valid) fail(Array.isArray(result.errors) ? result.errors : [result.errors]);
  const errors = [...semanticErrors(doc), ...schemaErrors(doc)];
  if (errors.length > 0) fail(errors);
  const operations = Object.values(doc.paths ?? {}).reduce(
    (n, item) => n + METHODS.filter((m) => item[m]).length,
    0,
  );
  console.log(`openapi: valid OpenAPI ${doc.openapi} (${operations} operations)`);
}

main().catch((e) => fail([e.stack ?? String(e)]));
