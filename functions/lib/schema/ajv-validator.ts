import Ajv, { type ErrorObject, type Options, type ValidateFunction } from 'ajv';
import Ajv2020 from 'ajv/dist/2020.js';
import draft06MetaSchema from 'ajv/dist/refs/json-schema-draft-06.json' with { type: 'json' };
import addFormats from 'ajv-formats';
import { RE2JS } from 're2js';
import { MAX_PATTERN_LENGTH, MAX_SCHEMA_PATTERNS, MAX_UNIQUE_ITEMS } from '../core/event-types.ts';
import type { PayloadSchemaValidator, SchemaIssue } from '../core/ports.ts';

/** Draft-06 and -07 share one Ajv instance; 2020-12 (and 2019-09) the other. Draft-04 is not offered. */
const DRAFT_07 = /json-schema\.org\/draft-0[67]\/schema/;
const MAX_CACHED = 500;
/** A schema that takes longer than this to compile is refused: it would cost as much on every cold start. */
const MAX_COMPILE_MS = 250;
/** Enough for a caller to fix the first problems; a huge invalid array must not build a huge answer. */
const MAX_REPORTED_ISSUES = 20;

class SchemaLimitError extends Error {}

/**
 * Tenants write the patterns (`pattern`, `patternProperties`, `propertyNames`), so they run on
 * RE2 (linear in the input, no backtracking) instead of `RegExp`, whose nested quantifiers can
 * take exponential time on one crafted string. RE2 has no lookaround or backreferences: such a
 * pattern is refused when the schema is declared.
 */
function linearRegExpEngine(counter: { patterns: number }) {
  const engine = (pattern: string) => {
    counter.patterns++;
    if (counter.patterns > MAX_SCHEMA_PATTERNS) {
      throw new SchemaLimitError(`the schema has more than ${MAX_SCHEMA_PATTERNS} patterns; each one runs over every payload`);
    }
    if (pattern.length > MAX_PATTERN_LENGTH) {
      throw new SchemaLimitError(`pattern '${pattern.slice(0, 40)}…' is ${pattern.length} characters; at most ${MAX_PATTERN_LENGTH}`);
    }
    let compiled: RE2JS;
    try {
      compiled = RE2JS.compile(pattern);
    } catch (error) {
      throw new SchemaLimitError(
        `pattern '${pattern}' is not supported (${(error as Error).message}): patterns use RE2 syntax, ` +
          'which runs in linear time and has no lookahead, lookbehind or backreferences',
      );
    }
    // ajv keys its scope of compiled patterns by toString(): it must name the pattern.
    return { test: (text: string) => compiled.test(text), toString: () => `re2:${pattern}` };
  };
  // Only read when ajv generates standalone code, which Sluice does not.
  return Object.assign(engine, { code: 'RE2JS.compile' });
}

/**
 * What ajv would accept but should not run. `uniqueItems` over objects or arrays compares every
 * pair of items (ajv hashes scalars only), so one long array costs n²: it needs scalar `items` or
 * a `maxItems` bound. And ajv cannot see a key named `__proto__` in a schema, so a schema that
 * names one would silently check nothing there.
 */
function shapeIssues(schema: unknown, path: string, issues: SchemaIssue[], depth = 0): void {
  if (typeof schema !== 'object' || schema === null || depth > 64) return;
  if (Array.isArray(schema)) {
    for (const [index, item] of schema.entries()) shapeIssues(item, `${path}[${index}]`, issues, depth + 1);
    return;
  }
  const node = schema as Record<string, unknown>;
  if (Object.hasOwn(node, '__proto__')) {
    issues.push({ path: `${path}.__proto__`, message: "a schema cannot name '__proto__': JSON Schema validators do not see that key" });
  }
  if (node.uniqueItems === true && !scalarItems(node.items) && !(typeof node.maxItems === 'number' && node.maxItems <= MAX_UNIQUE_ITEMS)) {
    issues.push({
      path,
      message: `uniqueItems needs scalar items (type string, number, integer or boolean) or maxItems of at most ${MAX_UNIQUE_ITEMS}`,
    });
  }
  for (const [key, value] of Object.entries(node)) {
    if (key !== 'const' && key !== 'enum' && key !== 'default' && key !== 'examples')
      shapeIssues(value, `${path}.${key}`, issues, depth + 1);
  }
}

const SCALAR = new Set(['string', 'number', 'integer', 'boolean', 'null']);

function scalarItems(items: unknown): boolean {
  if (typeof items !== 'object' || items === null) return false;
  const type = (items as { type?: unknown }).type;
  const types = Array.isArray(type) ? type : [type];
  return types.length > 0 && types.every((t) => typeof t === 'string' && SCALAR.has(t));
}

/**
 * JSON Schema validation with ajv: draft 2020-12 by default, draft-07 when the schema says so.
 * Compiling is the expensive part (≈ms), so validators are cached by schema version.
 */
export class AjvPayloadValidator implements PayloadSchemaValidator {
  private readonly counter = { patterns: 0 };
  private readonly modern: Ajv;
  private readonly draft7: Ajv;
  private readonly cache = new Map<string, ValidateFunction>();

  constructor() {
    const options: Options = { allErrors: true, strict: false, code: { regExp: linearRegExpEngine(this.counter) } };
    this.modern = addFormats(new Ajv2020(options));
    this.draft7 = addFormats(new Ajv(options)).addMetaSchema(draft06MetaSchema);
    // ajv compiles its meta-schemas on first use: done here, so the compile budget below times the
    // tenant's schema alone, not a one-off cost of a cold process (which a busy CPU can stretch past it).
    this.modern.compile({});
    this.draft7.compile({ $schema: 'http://json-schema.org/draft-07/schema#' });
  }

  checkSchema(schema: Record<string, unknown>): readonly SchemaIssue[] {
    const issues: SchemaIssue[] = [];
    shapeIssues(schema, 'schema', issues);
    if (issues.length > 0) return issues;
    const started = performance.now();
    try {
      this.compile(schema);
    } catch (error) {
      return [{ path: 'schema', message: error instanceof Error ? error.message : String(error) }];
    }
    const elapsed = performance.now() - started;
    if (elapsed > MAX_COMPILE_MS) {
      return [
        { path: 'schema', message: `the schema took ${Math.round(elapsed)} ms to compile; at most ${MAX_COMPILE_MS} ms: simplify it` },
      ];
    }
    return [];
  }

  validate(cacheKey: string, schema: Record<string, unknown>, data: unknown): readonly SchemaIssue[] {
    let validator = this.cache.get(cacheKey);
    if (!validator) {
      try {
        validator = this.compile(schema);
      } catch (error) {
        // Declared before a limit existed: tell the producer to declare it again, do not fail the request.
        return [{ path: 'schema', message: `the event type's schema no longer compiles (${(error as Error).message}); declare it again` }];
      }
      if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(cacheKey, validator);
    }
    return validator(data) ? [] : (validator.errors ?? []).slice(0, MAX_REPORTED_ISSUES).map(toIssue);
  }

  private compile(schema: Record<string, unknown>): ValidateFunction {
    const ajv = typeof schema.$schema === 'string' && DRAFT_07.test(schema.$schema) ? this.draft7 : this.modern;
    // $id would register the schema globally in ajv and clash on the next version of it.
    const { $id: _id, ...anonymous } = schema;
    this.counter.patterns = 0;
    try {
      return ajv.compile(anonymous);
    } finally {
      // Ajv caches every schema object it compiles; this class keeps its own bounded cache instead.
      ajv.removeSchema(anonymous);
    }
  }
}

function toIssue(error: ErrorObject): SchemaIssue {
  const path = `payload${error.instancePath.replaceAll('/', '.')}`;
  const extra = error.keyword === 'additionalProperties' ? ` ('${String(error.params.additionalProperty)}')` : '';
  return { path, message: `${error.message ?? error.keyword}${extra}` };
}
