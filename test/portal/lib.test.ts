import { barsOf, exampleOf, excerpt, formatTime, isoFromLocalInput, routeOf, tokenFromHash } from '../../portal/lib.ts';

describe('the portal link', () => {
  test('carries the token in its fragment; anything else is no token', () => {
    expect(tokenFromHash('#token=pst_v2.k1.a.b.c')).toBe('pst_v2.k1.a.b.c');
    expect(tokenFromHash(`#token=${encodeURIComponent('pst_a+b/c=')}`)).toBe('pst_a+b/c=');
    expect(tokenFromHash('#token=sk_live')).toBeUndefined();
    expect(tokenFromHash('#/endpoints')).toBeUndefined();
    expect(tokenFromHash('')).toBeUndefined();
  });

  test('pages are named by the fragment, with the endpoints list first', () => {
    expect(routeOf('')).toEqual(['endpoints']);
    expect(routeOf('#token=pst_x')).toEqual(['endpoints']);
    expect(routeOf('#/deliveries/dlv_1')).toEqual(['deliveries', 'dlv_1']);
    expect(routeOf('#/messages/msg%5F1/')).toEqual(['messages', 'msg_1']);
  });
});

describe('example payloads', () => {
  test('use what the schema offers, else a value of each type', () => {
    const schema = {
      type: 'object',
      properties: {
        lockId: { type: 'string' },
        at: { type: 'string', format: 'date-time' },
        battery: { type: 'integer' },
        state: { enum: ['locked', 'unlocked'] },
        tags: { type: 'array', items: { type: 'string', examples: ['front'] } },
        owner: { type: ['null', 'object'], properties: { email: { type: 'string', format: 'email' } } },
        retries: { type: 'number', default: 3 },
        either: { oneOf: [{ type: 'boolean' }, { type: 'string' }] },
      },
    };
    expect(exampleOf(schema)).toEqual({
      lockId: 'string',
      at: '2026-01-01T00:00:00Z',
      battery: 0,
      state: 'locked',
      tags: ['front'],
      owner: { email: 'someone@example.com' },
      retries: 3,
      either: true,
    });
  });

  test('stop at a depth, so a recursive schema cannot hang the page', () => {
    const node: Record<string, unknown> = { type: 'object', properties: {} };
    (node.properties as Record<string, unknown>).child = node;
    expect(JSON.stringify(exampleOf(node)).match(/child/g)).toHaveLength(7);
    expect(exampleOf('not a schema')).toBeNull();
  });
});

describe('the chart', () => {
  test('stacks failures (dead included) on deliveries (acknowledged included), scaled to the busiest hour', () => {
    const zero = { succeeded: 0, failed: 0, dead: 0, acknowledged: 0 };
    const { bars, max } = barsOf(
      [
        { start: 'a', ...zero, succeeded: 2, acknowledged: 1, failed: 1 },
        { start: 'b', ...zero, dead: 2 },
        { start: 'c', ...zero },
      ],
      100,
    );
    expect(max).toBe(4);
    expect(bars.map((b) => [b.succeeded, b.failed, b.succeededHeight, b.failedHeight])).toEqual([
      [3, 1, 75, 25],
      [0, 2, 0, 50],
      [0, 0, 0, 0],
    ]);
    expect(barsOf([{ start: 'c', ...zero }], 100).max).toBe(1);
  });
});

describe('times and text', () => {
  test('times read in UTC, and the filters take datetime-local values as UTC', () => {
    expect(formatTime('2026-11-30T10:04:05.123Z')).toBe('2026-11-30 10:04:05 UTC');
    expect(formatTime(undefined)).toBe('—');
    expect(isoFromLocalInput('2026-11-30T10:04')).toBe('2026-11-30T10:04:00.000Z');
    expect(isoFromLocalInput('')).toBeUndefined();
    expect(isoFromLocalInput('garbage')).toBeUndefined();
  });

  test('a response excerpt is cut with an ellipsis', () => {
    expect(excerpt('x'.repeat(201))).toBe(`${'x'.repeat(200)}…`);
    expect(excerpt('short')).toBe('short');
    expect(excerpt(undefined)).toBe('');
  });
});
