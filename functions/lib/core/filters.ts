/**
 * Endpoint filters: a JSON document over a message's `{type, data, metadata}` that decides whether
 * an endpoint subscribed to the message's type gets it. The language is the one Convoy and
 * Hookdeck Outpost use (MongoDB-style operators); docs/filters.md gives the exact semantics.
 *
 * A filter is checked once, when it is stored (`parseFilter`: unknown operators, operands of the
 * wrong type, size and depth give a `ValidationError`), and compiled once per endpoint copy
 * (`storedFilterOf`), so routing a message costs no I/O and no re-parse.
 */
import { type ErrorDetail, ValidationError } from './errors.ts';

export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue };
export type JsonScalar = string | number | boolean | null;

/** A filter document as stored and returned: a JSON object, checked by `parseFilter` before it is stored. */
export type FilterDocument = Readonly<Record<string, unknown>>;

/** What a filter sees of a message. */
export interface FilterSubject {
  readonly type: string;
  readonly data: unknown;
  readonly metadata?: Readonly<Record<string, string>>;
}

export const MAX_FILTER_BYTES = 4 * 1024;
/** Nesting of objects and arrays in the document, counting the document itself. */
export const MAX_FILTER_DEPTH = 8;
export const MAX_FILTER_LIST = 100;
export const MAX_PATH_SEGMENTS = 16;
/** What a path may start with: the message's fields a filter sees. */
export const filterRoots: readonly string[] = ['type', 'data', 'metadata'];

const comparisons = ['$eq', '$neq', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$startsWith', '$endsWith', '$exist'] as const;
type Comparison = (typeof comparisons)[number];
const logical = new Set(['$and', '$or', '$not']);

function isComparison(name: string): name is Comparison {
  return (comparisons as readonly string[]).includes(name);
}

type Node =
  | { readonly kind: '$and' | '$or'; readonly nodes: readonly Node[] }
  | { readonly kind: '$not'; readonly node: Node }
  | { readonly kind: 'test'; readonly path: readonly string[]; readonly op: Comparison; readonly operand: JsonValue };

export interface CompiledFilter {
  readonly root: Node;
}

/** One condition of an explanation, mirroring the filter's structure. */
export type FilterExplanation =
  | { readonly operator: '$and' | '$or' | '$not'; readonly matched: boolean; readonly conditions: readonly FilterExplanation[] }
  | {
      readonly path: string;
      readonly operator: Comparison;
      readonly operand: JsonValue;
      /** What the path found in the message (several when it crosses arrays); absent: nothing. */
      readonly found: readonly JsonValue[];
      readonly matched: boolean;
    };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isScalar(value: unknown): value is JsonScalar {
  return value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

function depthOf(value: unknown): number {
  if (Array.isArray(value)) return 1 + Math.max(0, ...value.map(depthOf));
  if (isPlainObject(value)) return 1 + Math.max(0, ...Object.values(value).map(depthOf));
  return 0;
}

class FilterParser {
  readonly issues: ErrorDetail[] = [];

  private fail(where: string, message: string): undefined {
    this.issues.push({ path: where, message });
    return undefined;
  }

  /** A filter object: every entry must hold (an implicit `$and`). */
  filter(value: unknown, base: readonly string[], where: string): Node | undefined {
    if (!isPlainObject(value)) return this.fail(where, 'a filter is a JSON object of paths and operators');
    const nodes: Node[] = [];
    for (const [key, condition] of Object.entries(value)) {
      const at = `${where}.${key}`;
      const node = key.startsWith('$') ? this.logical(key, condition, base, at) : this.path(key, condition, base, at);
      if (node) nodes.push(node);
    }
    return nodes.length === 1 ? nodes[0] : { kind: '$and', nodes };
  }

  private logical(key: string, condition: unknown, base: readonly string[], at: string): Node | undefined {
    if (key === '$not') {
      const node = this.filter(condition, base, at);
      return node && { kind: '$not', node };
    }
    if (key === '$and' || key === '$or') {
      if (!Array.isArray(condition) || condition.length === 0) return this.fail(at, `${key} takes a non-empty array of filters`);
      const nodes = condition.map((item, index) => this.filter(item, base, `${at}[${index}]`));
      return nodes.every((node) => node !== undefined) ? { kind: key, nodes: nodes as Node[] } : undefined;
    }
    if (isComparison(key)) {
      // Under a path (`{"data.amount": {"$gt": 5}}`, or inside a `$not` there) it compares that path's value.
      if (base.length > 0) return this.test(base, key, condition, at);
      return this.fail(at, `${key} compares the value at a path: write it under one, such as {"data.amount": {"${key}": …}}`);
    }
    return this.fail(at, `unknown operator ${key}; use one of ${[...logical, ...comparisons].join(' ')}`);
  }

  private path(key: string, condition: unknown, base: readonly string[], at: string): Node | undefined {
    const segments = key.split('.');
    if (segments.some((segment) => segment === '')) return this.fail(at, 'a path is dot-separated names, none of them empty');
    const path = [...base, ...segments];
    if (path.length > MAX_PATH_SEGMENTS) return this.fail(at, `a path has at most ${MAX_PATH_SEGMENTS} segments`);
    if (base.length === 0 && !filterRoots.includes(segments[0] ?? '')) {
      return this.fail(at, `a path starts with ${filterRoots.join(', ')} (the message's type, its payload, its metadata)`);
    }
    if (!isPlainObject(condition)) return this.test(path, '$eq', condition, at);
    const keys = Object.keys(condition);
    if (keys.length === 0) return this.fail(at, 'an empty condition matches nothing in particular: give a value or an operator');
    const comparing = keys.some((name) => isComparison(name));
    if (comparing && keys.some((name) => !name.startsWith('$'))) {
      return this.fail(at, 'a condition is either operators ({"$gt": 5}) or nested paths ({"plan": "pro"}), not both');
    }
    return this.filter(condition, path, at);
  }

  private test(path: readonly string[], op: string, operand: unknown, at: string): Node | undefined {
    switch (op) {
      case '$eq':
      case '$neq':
        break;
      case '$gt':
      case '$gte':
      case '$lt':
      case '$lte':
        if (typeof operand !== 'number' && typeof operand !== 'string') return this.fail(at, `${op} compares with a number or a string`);
        break;
      case '$in':
      case '$nin':
        if (!Array.isArray(operand) || operand.length === 0 || operand.length > MAX_FILTER_LIST || !operand.every(isScalar)) {
          return this.fail(at, `${op} takes an array of 1 to ${MAX_FILTER_LIST} strings, numbers, booleans or nulls`);
        }
        break;
      case '$startsWith':
      case '$endsWith':
        if (typeof operand !== 'string' || operand === '') return this.fail(at, `${op} takes a non-empty string`);
        break;
      case '$exist':
        if (typeof operand !== 'boolean') return this.fail(at, '$exist takes true or false');
        break;
      default:
        return this.fail(at, `unknown operator ${op}; use one of ${comparisons.join(' ')}`);
    }
    return { kind: 'test', path, op, operand: operand as JsonValue };
  }
}

/** Checks a filter document and compiles it; throws a `ValidationError` naming every problem, under `where`. */
export function parseFilter(document: unknown, where = 'filter'): CompiledFilter {
  const bytes = Buffer.byteLength(JSON.stringify(document) ?? '', 'utf8');
  if (bytes > MAX_FILTER_BYTES) {
    throw new ValidationError(`the filter is ${bytes} bytes; the limit is ${MAX_FILTER_BYTES}`, [{ path: where, message: 'too large' }]);
  }
  if (depthOf(document) > MAX_FILTER_DEPTH) {
    throw new ValidationError(`the filter nests deeper than ${MAX_FILTER_DEPTH} levels`, [{ path: where, message: 'too deep' }]);
  }
  const parser = new FilterParser();
  const root = parser.filter(document, [], where);
  if (!root || parser.issues.length > 0) {
    const first = parser.issues[0];
    throw new ValidationError(`invalid filter: ${first ? `${first.path}: ${first.message}` : 'not a filter'}`, parser.issues);
  }
  return { root };
}

const compiled = new WeakMap<object, CompiledFilter | 'invalid'>();

/**
 * The compiled form of a stored filter, once per document object: a tenant's cached endpoints
 * keep their filter objects, so the hot path compiles each filter once per copy. Undefined for a
 * stored filter that no longer passes `parseFilter` (checked when written, so only after a rule
 * tightens); the caller decides what that means.
 */
export function storedFilterOf(document: FilterDocument): CompiledFilter | undefined {
  let filter = compiled.get(document);
  if (!filter) {
    try {
      filter = parseFilter(document);
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      filter = 'invalid';
    }
    compiled.set(document, filter);
  }
  return filter === 'invalid' ? undefined : filter;
}

/**
 * Every value a path reaches. A segment that meets an array applies to each element (a numeric
 * segment indexes it instead), so `data.items.sku` finds the sku of every item. Only own
 * properties are followed: `__proto__` or `constructor` find nothing.
 */
function valuesAt(value: unknown, path: readonly string[], from = 0): unknown[] {
  if (from === path.length) return value === undefined ? [] : [value];
  const segment = path[from] as string;
  if (Array.isArray(value)) {
    if (/^(0|[1-9]\d*)$/.test(segment)) return valuesAt(value[Number(segment)], path, from + 1);
    return value.flatMap((element) => (isPlainObject(element) ? valuesAt(element, path, from) : []));
  }
  if (isPlainObject(value) && Object.hasOwn(value, segment)) return valuesAt(value[segment], path, from + 1);
  return [];
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, i) => deepEqual(item, b[i]));
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && deepEqual(a[key], b[key]));
  }
  return false;
}

/** A value, or (array membership) any element of an array value, satisfies `check`. */
function anyOf(value: unknown, check: (item: unknown) => boolean): boolean {
  return check(value) || (Array.isArray(value) && value.some(check));
}

function compare(op: '$gt' | '$gte' | '$lt' | '$lte', value: unknown, operand: number | string): boolean {
  if (typeof value !== typeof operand) return false;
  const left = value as number | string;
  if (op === '$gt') return left > operand;
  if (op === '$gte') return left >= operand;
  if (op === '$lt') return left < operand;
  return left <= operand;
}

function holds(op: Comparison, operand: JsonValue, found: readonly unknown[]): boolean {
  switch (op) {
    case '$eq':
      return found.some((value) => anyOf(value, (item) => deepEqual(item, operand)));
    case '$neq':
      return !holds('$eq', operand, found);
    case '$in':
      return found.some((value) => anyOf(value, (item) => (operand as readonly JsonValue[]).some((candidate) => candidate === item)));
    case '$nin':
      return !holds('$in', operand, found);
    case '$gt':
    case '$gte':
    case '$lt':
    case '$lte':
      return found.some((value) => anyOf(value, (item) => compare(op, item, operand as number | string)));
    case '$startsWith':
      return found.some((value) => anyOf(value, (item) => typeof item === 'string' && item.startsWith(operand as string)));
    case '$endsWith':
      return found.some((value) => anyOf(value, (item) => typeof item === 'string' && item.endsWith(operand as string)));
    case '$exist':
      return found.length > 0 === operand;
  }
}

function subjectOf(subject: FilterSubject): Record<string, unknown> {
  return { type: subject.type, data: subject.data, metadata: subject.metadata ?? {} };
}

function evaluate(node: Node, subject: Record<string, unknown>): boolean {
  if (node.kind === 'test') return holds(node.op, node.operand, valuesAt(subject, node.path));
  if (node.kind === '$not') return !evaluate(node.node, subject);
  return node.kind === '$and'
    ? node.nodes.every((child) => evaluate(child, subject))
    : node.nodes.some((child) => evaluate(child, subject));
}

export function matchesFilter(filter: CompiledFilter, subject: FilterSubject): boolean {
  return evaluate(filter.root, subjectOf(subject));
}

/** At most this many values found at a path are shown, each cut to a short JSON text when it is large. */
const MAX_SHOWN_VALUES = 5;
const MAX_SHOWN_CHARS = 200;

function shown(value: unknown): JsonValue {
  const text = JSON.stringify(value) ?? 'null';
  return text.length > MAX_SHOWN_CHARS ? `${text.slice(0, MAX_SHOWN_CHARS)}…` : (value as JsonValue);
}

function explain(node: Node, subject: Record<string, unknown>): FilterExplanation {
  if (node.kind === '$not') {
    const inner = explain(node.node, subject);
    return { operator: '$not', matched: !inner.matched, conditions: [inner] };
  }
  if (node.kind !== 'test') {
    const conditions = node.nodes.map((child) => explain(child, subject));
    const matched = node.kind === '$and' ? conditions.every((c) => c.matched) : conditions.some((c) => c.matched);
    return { operator: node.kind, matched, conditions };
  }
  const found = valuesAt(subject, node.path);
  return {
    path: node.path.join('.'),
    operator: node.op,
    operand: node.operand,
    found: found.slice(0, MAX_SHOWN_VALUES).map(shown),
    matched: holds(node.op, node.operand, found),
  };
}

/** Every condition evaluated (no short cut), for `POST /v1/endpoints/{id}/filter/test` and `POST /v1/filters/test`. */
export function explainFilter(filter: CompiledFilter, subject: FilterSubject): FilterExplanation {
  return explain(filter.root, subjectOf(subject));
}
