import fc from 'fast-check';
import { ValidationError } from '../../../../functions/lib/core/errors.ts';
import {
  explainFilter,
  type FilterSubject,
  MAX_FILTER_BYTES,
  matchesFilter,
  parseFilter,
  storedFilterOf,
} from '../../../../functions/lib/core/filters.ts';

const order: FilterSubject = {
  type: 'order.created',
  data: {
    id: 'ord_1',
    amount: 250,
    currency: 'EUR',
    customer: { plan: 'pro', email: 'ada@example.com', tags: ['vip', 'beta'] },
    items: [
      { sku: 'A-1', qty: 2 },
      { sku: 'B-7', qty: 1 },
    ],
    note: null,
  },
  metadata: { region: 'eu-west-1', source: 'checkout' },
};

const matches = (filter: unknown, subject: FilterSubject = order) => matchesFilter(parseFilter(filter), subject);

function issuesOf(filter: unknown): { path?: string; message: string }[] {
  try {
    parseFilter(filter);
  } catch (error) {
    if (error instanceof ValidationError) return [...(error.details ?? [])];
    throw error;
  }
  throw new Error('the filter was accepted');
}

describe('filters: matching', () => {
  test('a literal is equality; nested objects and dotted paths are the same path', () => {
    expect(matches({ type: 'order.created' })).toBe(true);
    expect(matches({ 'data.customer.plan': 'pro' })).toBe(true);
    expect(matches({ data: { customer: { plan: 'pro' } } })).toBe(true);
    expect(matches({ data: { customer: { plan: 'free' } } })).toBe(false);
    expect(matches({ 'metadata.region': 'eu-west-1' })).toBe(true);
    // Every entry must hold.
    expect(matches({ type: 'order.created', 'data.currency': 'USD' })).toBe(false);
    expect(matches({})).toBe(true);
  });

  test('numbers and strings compare by their own type only', () => {
    expect(matches({ 'data.amount': { $gt: 100 } })).toBe(true);
    expect(matches({ 'data.amount': { $gte: 250, $lte: 250 } })).toBe(true);
    expect(matches({ 'data.amount': { $lt: 250 } })).toBe(false);
    // A string operand never matches a number (no coercion).
    expect(matches({ 'data.amount': { $gt: '100' } })).toBe(false);
    expect(matches({ 'data.currency': { $gte: 'EUR', $lt: 'USD' } })).toBe(true);
  });

  test('arrays: a value matches when any element does; a numeric segment indexes; paths cross arrays of objects', () => {
    expect(matches({ 'data.customer.tags': 'vip' })).toBe(true);
    expect(matches({ 'data.customer.tags': ['vip', 'beta'] })).toBe(true);
    expect(matches({ 'data.customer.tags': ['beta', 'vip'] })).toBe(false);
    expect(matches({ 'data.customer.tags': { $in: ['gold', 'beta'] } })).toBe(true);
    expect(matches({ 'data.customer.tags': { $nin: ['gold', 'beta'] } })).toBe(false);
    expect(matches({ 'data.items.sku': 'B-7' })).toBe(true);
    expect(matches({ 'data.items.qty': { $gt: 1 } })).toBe(true);
    expect(matches({ 'data.items.1.sku': 'B-7' })).toBe(true);
    expect(matches({ 'data.items.0.sku': 'B-7' })).toBe(false);
    expect(matches({ 'data.customer.tags': { $startsWith: 'be' } })).toBe(true);
  });

  test('strings: $startsWith and $endsWith', () => {
    expect(matches({ 'data.customer.email': { $endsWith: '@example.com' } })).toBe(true);
    expect(matches({ type: { $startsWith: 'order.' } })).toBe(true);
    expect(matches({ type: { $startsWith: 'invoice.' } })).toBe(false);
    expect(matches({ 'data.amount': { $startsWith: '2' } })).toBe(false);
  });

  test('a missing path: nothing equals it, so $neq and $nin hold; $exist tells present from absent; null is present', () => {
    expect(matches({ 'data.coupon': 'X' })).toBe(false);
    expect(matches({ 'data.coupon': { $neq: 'X' } })).toBe(true);
    expect(matches({ 'data.coupon': { $nin: ['X'] } })).toBe(true);
    expect(matches({ 'data.coupon': { $exist: false } })).toBe(true);
    expect(matches({ 'data.note': { $exist: true } })).toBe(true);
    expect(matches({ 'data.note': null })).toBe(true);
    expect(matches({ 'data.customer.plan': { $neq: 'pro' } })).toBe(false);
  });

  test('logic: $and, $or, $not at the top and under a path', () => {
    expect(matches({ $or: [{ 'data.currency': 'USD' }, { 'data.amount': { $gt: 200 } }] })).toBe(true);
    expect(matches({ $and: [{ 'data.currency': 'EUR' }, { 'data.amount': { $gt: 300 } }] })).toBe(false);
    expect(matches({ $not: { 'metadata.source': 'import' } })).toBe(true);
    expect(matches({ 'data.amount': { $not: { $gt: 1000 } } })).toBe(true);
    expect(matches({ data: { $or: [{ currency: 'USD' }, { 'customer.plan': 'pro' }] } })).toBe(true);
  });

  test('only own properties are followed: __proto__ and constructor find nothing', () => {
    expect(matches({ 'data.constructor': { $exist: true } })).toBe(false);
    expect(matches({ 'data.__proto__': { $exist: true } })).toBe(false);
    expect(matches({ 'data.toString': { $exist: true } })).toBe(false);
  });

  test('a stored filter is compiled once per document object; one that no longer parses gives undefined', () => {
    const stored = { 'data.amount': { $gt: 1 } };
    expect(storedFilterOf(stored)).toBe(storedFilterOf(stored));
    expect(matchesFilter(storedFilterOf(stored) ?? parseFilter({}), order)).toBe(true);
    expect(storedFilterOf({ 'data.amount': { $between: [1, 2] } })).toBeUndefined();
  });
});

describe('filters: validation', () => {
  test('unknown operators, type-confused operands and bad paths are refused with where and why', () => {
    expect(issuesOf({ 'data.amount': { $gtx: 5 } })).toEqual([
      { path: 'filter.data.amount.$gtx', message: expect.stringContaining('unknown operator $gtx') },
    ]);
    expect(issuesOf({ 'data.amount': { $gt: { n: 5 } } })[0]?.message).toContain('$gt compares with a number or a string');
    expect(issuesOf({ 'data.amount': { $gt: true } })[0]?.message).toContain('number or a string');
    expect(issuesOf({ 'data.tags': { $in: 'vip' } })[0]?.message).toContain('$in takes an array');
    expect(issuesOf({ 'data.tags': { $in: [] } })[0]?.message).toContain('$in takes an array');
    expect(issuesOf({ 'data.tags': { $in: [{ a: 1 }] } })[0]?.message).toContain('$in takes an array');
    expect(issuesOf({ 'data.name': { $startsWith: 5 } })[0]?.message).toContain('non-empty string');
    expect(issuesOf({ 'data.name': { $exist: 'yes' } })[0]?.message).toContain('true or false');
    expect(issuesOf({ $or: {} })[0]?.message).toContain('$or takes a non-empty array');
    expect(issuesOf({ $gt: 5 })[0]?.message).toContain('compares the value at a path');
    expect(issuesOf({ payload: { a: 1 } })[0]?.message).toContain('a path starts with type, data, metadata');
    expect(issuesOf({ 'data..a': 1 })[0]?.message).toContain('none of them empty');
    expect(issuesOf({ 'data.a': {} })[0]?.message).toContain('empty condition');
    expect(issuesOf({ 'data.a': { $gt: 1, b: 2 } })[0]?.message).toContain('not both');
    expect(issuesOf([{ type: 'x' }])[0]?.message).toContain('a filter is a JSON object');
  });

  test('every problem is reported, not just the first', () => {
    expect(issuesOf({ 'data.a': { $foo: 1 }, 'data.b': { $lt: [] } }).map((issue) => issue.path)).toEqual([
      'filter.data.a.$foo',
      'filter.data.b.$lt',
    ]);
  });

  test('size and depth are bounded', () => {
    expect(() => parseFilter({ 'data.a': { $in: Array.from({ length: 100 }, (_, i) => `value-${'x'.repeat(40)}-${i}`) } })).toThrow(
      `the limit is ${MAX_FILTER_BYTES}`,
    );
    let deep: Record<string, unknown> = { 'data.a': 1 };
    for (let i = 0; i < 8; i++) deep = { $not: deep };
    expect(() => parseFilter(deep)).toThrow('nests deeper than 8 levels');
  });
});

describe('filters: explanation', () => {
  test('mirrors the filter, evaluates every condition and shows what each path found', () => {
    const explanation = explainFilter(parseFilter({ $or: [{ 'data.currency': 'USD' }, { 'data.items.qty': { $gt: 1 } }] }), order);
    expect(explanation).toEqual({
      operator: '$or',
      matched: true,
      conditions: [
        { path: 'data.currency', operator: '$eq', operand: 'USD', found: ['EUR'], matched: false },
        { path: 'data.items.qty', operator: '$gt', operand: 1, found: [2, 1], matched: true },
      ],
    });
  });

  test('large values found are cut short', () => {
    const big = { type: 't', data: { blob: 'x'.repeat(1000) } };
    const explanation = explainFilter(parseFilter({ 'data.blob': 'y' }), big);
    expect(JSON.stringify(explanation).length).toBeLessThan(400);
  });

  test('property: the explanation and the matcher always agree', () => {
    const scalar = fc.oneof(fc.integer({ min: -5, max: 5 }), fc.constantFrom('a', 'b', 'ab', 'ba'), fc.boolean(), fc.constant(null));
    const value = fc.oneof(scalar, fc.array(scalar, { maxLength: 3 }));
    const condition = fc.oneof(
      scalar,
      fc.record({ $neq: scalar }),
      fc.record({ $gt: fc.integer({ min: -5, max: 5 }) }),
      fc.record({ $lte: fc.constantFrom('a', 'b') }),
      fc.record({ $in: fc.array(scalar, { minLength: 1, maxLength: 3 }) }),
      fc.record({ $nin: fc.array(scalar, { minLength: 1, maxLength: 3 }) }),
      fc.record({ $startsWith: fc.constantFrom('a', 'b') }),
      fc.record({ $exist: fc.boolean() }),
    );
    const leaf = fc.dictionary(fc.constantFrom('data.x', 'data.y', 'metadata.k'), condition, { minKeys: 1, maxKeys: 2 });
    const filter = fc.oneof(leaf, fc.record({ $or: fc.array(leaf, { minLength: 1, maxLength: 3 }) }), fc.record({ $not: leaf }));
    fc.assert(
      fc.property(filter, fc.record({ x: value, y: value }), fc.constantFrom('a', 'b'), (document, data, k) => {
        const compiled = parseFilter(document);
        const subject = { type: 't', data, metadata: { k } };
        expect(explainFilter(compiled, subject).matched).toBe(matchesFilter(compiled, subject));
        // $neq is exactly the negation of equality, missing paths included.
        for (const [path, cond] of Object.entries(document)) {
          if (path.startsWith('$') || typeof cond === 'object') continue;
          expect(matchesFilter(parseFilter({ [path]: { $neq: cond } }), subject)).toBe(
            !matchesFilter(parseFilter({ [path]: cond }), subject),
          );
        }
      }),
      { numRuns: 300 },
    );
  });
});
