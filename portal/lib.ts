/**
 * What the portal computes without a browser: the token in a portal link, example payloads from
 * a schema, the chart's bars, and how times read. Plain functions, unit-tested in
 * test/portal/lib.test.ts; the pages (`*.tsx`) are covered by the browser suite.
 */

/** The token a portal link carries in its fragment (`/portal#token=pst_…`), if any. */
export function tokenFromHash(hash: string): string | undefined {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const token = params.get('token');
  return token?.startsWith('pst_') ? token : undefined;
}

/** The page a fragment names (`#/endpoints/ep_1` → `['endpoints', 'ep_1']`); the endpoints list by default. */
export function routeOf(hash: string): string[] {
  const path = hash.replace(/^#\/?/, '');
  if (path === '' || path.startsWith('token=')) return ['endpoints'];
  return path.split('/').filter(Boolean).map(decodeURIComponent);
}

type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  examples?: unknown[];
  example?: unknown;
  default?: unknown;
  format?: string;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
};

/**
 * A payload that fits a JSON Schema, to show next to it: the schema's own examples or defaults
 * where it has them, else a plain value of each property's type. Depth-limited, so a recursive
 * schema cannot hang the page.
 */
export function exampleOf(schema: unknown, depth = 0): unknown {
  if (typeof schema !== 'object' || schema === null || depth > 6) return null;
  const s = schema as JsonSchema;
  if (s.examples?.length) return s.examples[0];
  if (s.example !== undefined) return s.example;
  if (s.const !== undefined) return s.const;
  if (s.default !== undefined) return s.default;
  if (s.enum?.length) return s.enum[0];
  const variant = s.oneOf?.[0] ?? s.anyOf?.[0];
  if (variant) return exampleOf(variant, depth + 1);
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type;
  switch (type ?? (s.properties ? 'object' : undefined)) {
    case 'object':
      return Object.fromEntries(Object.entries(s.properties ?? {}).map(([name, property]) => [name, exampleOf(property, depth + 1)]));
    case 'array':
      return s.items ? [exampleOf(s.items, depth + 1)] : [];
    case 'string':
      return s.format === 'date-time' ? '2026-01-01T00:00:00Z' : s.format === 'email' ? 'someone@example.com' : 'string';
    case 'integer':
    case 'number':
      return 0;
    case 'boolean':
      return true;
    default:
      return null;
  }
}

export interface Bar {
  readonly start: string;
  readonly succeeded: number;
  readonly failed: number;
  /** Heights in chart units (0 to `height`), stacked: failures above successes. */
  readonly succeededHeight: number;
  readonly failedHeight: number;
}

/**
 * Successes and failures per bucket, scaled to a chart `height` high. Dead deliveries count as
 * failures, acknowledged ones (thin and poll) as successes: what a person asks is "did it arrive".
 */
export function barsOf(
  buckets: readonly { start: string; succeeded: number; failed: number; dead: number; acknowledged: number }[],
  height: number,
): { bars: Bar[]; max: number } {
  const counted = buckets.map((b) => ({ start: b.start, succeeded: b.succeeded + b.acknowledged, failed: b.failed + b.dead }));
  const max = Math.max(1, ...counted.map((b) => b.succeeded + b.failed));
  return {
    max,
    bars: counted.map((b) => ({ ...b, succeededHeight: (b.succeeded / max) * height, failedHeight: (b.failed / max) * height })),
  };
}

/** `2026-11-30T10:04:05.123Z` → `2026-11-30 10:04:05 UTC`: one zone for everyone who reads a log together. */
export function formatTime(iso: string | undefined): string {
  if (!iso) return '—';
  return iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC');
}

/** A `datetime-local` input's value (read as UTC) as the API's ISO time, or undefined when empty. */
export function isoFromLocalInput(value: string): string | undefined {
  if (!value) return undefined;
  const date = new Date(`${value}${value.length === 16 ? ':00' : ''}Z`);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/** The first `max` characters of a response body, and whether there was more. */
export function excerpt(text: string | undefined, max = 200): string {
  if (!text) return '';
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
