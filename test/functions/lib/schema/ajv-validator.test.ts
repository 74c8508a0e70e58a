import { AjvPayloadValidator } from '../../../../functions/lib/schema/ajv-validator.ts';

const DRAFT_07 = 'http://json-schema.org/draft-07/schema#';
const DRAFT_2020 = 'https://json-schema.org/draft/2020-12/schema';

describe('AjvPayloadValidator', () => {
  const validator = new AjvPayloadValidator();

  test('valid data has no issues', () => {
    const schema = { type: 'object', required: ['lockId'], properties: { lockId: { type: 'string' } } };
    expect(validator.validate('k-valid', schema, { lockId: 'L-1' })).toEqual([]);
  });

  test('issues name the path as payload.a.b', () => {
    const schema = {
      type: 'object',
      properties: {
        a: { type: 'object', properties: { b: { type: 'integer' } } },
        list: { type: 'array', items: { type: 'string' } },
      },
    };
    const issues = validator.validate('k-paths', schema, { a: { b: 'not a number' }, list: ['ok', 3] });
    expect(issues).toEqual(
      expect.arrayContaining([
        { path: 'payload.a.b', message: 'must be integer' },
        { path: 'payload.list.1', message: 'must be string' },
      ]),
    );
    expect(issues).toHaveLength(2);
  });

  test('a missing required property is reported at its parent, and every error is collected', () => {
    const schema = { type: 'object', required: ['x', 'y'], properties: { x: { type: 'string' } } };
    const issues = validator.validate('k-required', schema, {});
    expect(issues).toEqual([
      { path: 'payload', message: "must have required property 'x'" },
      { path: 'payload', message: "must have required property 'y'" },
    ]);
  });

  test('an additional property is named in the message', () => {
    const schema = { type: 'object', properties: { a: { type: 'string' } }, additionalProperties: false };
    expect(validator.validate('k-additional', schema, { a: 'x', sneaky: 1 })).toEqual([
      { path: 'payload', message: "must NOT have additional properties ('sneaky')" },
    ]);
  });

  test('draft 2020-12 is the default (prefixItems is understood)', () => {
    const schema = { type: 'array', prefixItems: [{ type: 'string' }, { type: 'integer' }], items: false };
    expect(validator.validate('k-2020-ok', schema, ['a', 1])).toEqual([]);
    expect(validator.validate('k-2020-bad', schema, ['a', 'b'])).toEqual([{ path: 'payload.1', message: 'must be integer' }]);
    expect(validator.validate('k-2020-extra', schema, ['a', 1, 2]).length).toBeGreaterThan(0);
    expect(validator.checkSchema({ $schema: DRAFT_2020, ...schema })).toEqual([]);
  });

  test('draft-07 is used when $schema says so (array-form items are tuples)', () => {
    const schema = { $schema: DRAFT_07, type: 'array', items: [{ type: 'string' }, { type: 'integer' }], additionalItems: false };
    expect(validator.checkSchema(schema)).toEqual([]);
    expect(validator.validate('k-07-ok', schema, ['a', 1])).toEqual([]);
    expect(validator.validate('k-07-bad', schema, ['a', 'b'])).toEqual([{ path: 'payload.1', message: 'must be integer' }]);
    // The same schema under 2020-12 rules is not valid: array-form `items` was removed.
    const { $schema: _dropped, ...without } = schema;
    expect(validator.checkSchema(without)).not.toEqual([]);
  });

  test('formats: email and date-time are checked', () => {
    const schema = {
      type: 'object',
      properties: { email: { type: 'string', format: 'email' }, at: { type: 'string', format: 'date-time' } },
    };
    expect(validator.validate('k-fmt', schema, { email: 'ada@example.com', at: '2025-03-01T12:00:00Z' })).toEqual([]);
    expect(validator.validate('k-fmt', schema, { email: 'not-an-email', at: 'yesterday' })).toEqual([
      { path: 'payload.email', message: 'must match format "email"' },
      { path: 'payload.at', message: 'must match format "date-time"' },
    ]);
  });

  test('formats work under draft-07 too', () => {
    const schema = { $schema: DRAFT_07, type: 'string', format: 'email' };
    expect(validator.validate('k-07-fmt', schema, 'nope')).toEqual([{ path: 'payload', message: 'must match format "email"' }]);
  });

  test('checkSchema reports an invalid schema', () => {
    const issues = validator.checkSchema({ type: 'nonsense' });
    expect(issues).toHaveLength(1);
    expect(issues[0]?.path).toBe('schema');
    expect(issues[0]?.message).toMatch(/schema is invalid/);
    expect(validator.checkSchema({ type: 'object', properties: { a: { minLength: 'three' } } })).toHaveLength(1);
    expect(validator.checkSchema({ $ref: '#/$defs/missing' })).toHaveLength(1);
  });

  test('checkSchema accepts a valid schema', () => {
    expect(validator.checkSchema({ type: 'object', properties: { a: { type: 'string', minLength: 3 } } })).toEqual([]);
  });

  test('validators are cached by key: the same key keeps the schema it was first compiled with', () => {
    const fresh = new AjvPayloadValidator();
    const strings = { type: 'string' };
    const numbers = { type: 'number' };
    expect(fresh.validate('tenant/type@v1', strings, 'x')).toEqual([]);
    // Same key, other schema: the cached (string) validator answers.
    expect(fresh.validate('tenant/type@v1', numbers, 'x')).toEqual([]);
    // A new key (a new version of the type) compiles the new schema.
    expect(fresh.validate('tenant/type@v2', numbers, 'x')).toEqual([{ path: 'payload', message: 'must be number' }]);
  });

  test('an $id does not make the next version of the same schema clash', () => {
    const fresh = new AjvPayloadValidator();
    const v1 = { $id: 'https://example.com/lock.json', type: 'object', required: ['a'] };
    const v2 = { $id: 'https://example.com/lock.json', type: 'object', required: ['b'] };
    expect(fresh.checkSchema(v1)).toEqual([]);
    expect(fresh.checkSchema(v2)).toEqual([]);
    expect(fresh.validate('lock@1', v1, { a: 1 })).toEqual([]);
    expect(fresh.validate('lock@2', v2, { a: 1 })).toEqual([{ path: 'payload', message: "must have required property 'b'" }]);
  });

  // Regression guard, fixed (functions/lib/schema/ajv-validator.ts lines 37-41): compile() hands ajv a fresh object each
  // time (`anonymous`), and ajv keeps every schema it compiled in its own cache, keyed by that
  // object. So the MAX_CACHED bound on the class's map is moot: each cache miss and each
  // checkSchema call (every PUT /v1/event-types) adds an entry to ajv's cache that is never
  // released, and a long-lived process grows without bound. This test reads ajv's private
  // `_cache` to show it. Fix: `ajv.removeSchema(anonymous)` right after `ajv.compile(anonymous)`
  // (the compiled function stays usable), or compile with a short-lived Ajv instance.
  // The compile budget (250 ms) is wall-clock: ajv's first compile in a cold process also compiles
  // its meta-schemas, which a busy CPU stretched past the budget, refusing a simple schema.
  test('the meta-schemas are compiled when the validator is built, so the compile budget times the tenant’s schema alone', () => {
    const fresh = new AjvPayloadValidator();
    const compiledMeta = (instance: string, id: string) => {
      const ajv = Reflect.get(fresh, instance) as object;
      const entry = (Reflect.get(ajv, 'schemas') as Record<string, { validate?: unknown } | undefined>)[id];
      return typeof entry?.validate;
    };
    expect(compiledMeta('modern', 'https://json-schema.org/draft/2020-12/schema')).toBe('function');
    expect(compiledMeta('draft7', 'http://json-schema.org/draft-07/schema')).toBe('function');
  });

  test('compiling more than MAX_CACHED (500) schema versions keeps ajv’s own cache bounded', () => {
    const fresh = new AjvPayloadValidator();
    for (let i = 0; i < 600; i++) fresh.validate(`tenant/type@v${i}`, { type: 'object', properties: { n: { const: i } } }, { n: i });
    const internal = Reflect.get(Reflect.get(fresh, 'modern') as object, '_cache');
    expect(internal).toBeInstanceOf(Map);
    expect((internal as Map<unknown, unknown>).size).toBeLessThanOrEqual(520);
  });

  // Regression guard, fixed (functions/lib/schema/ajv-validator.ts lines 6 and 38): DRAFT_07 matches draft-04, -05,
  // -06 and -07 `$schema` URIs and sends them all to the draft-07 Ajv instance, but that instance
  // only has the draft-07 meta-schema. A schema that declares draft-06 (or -04) fails to compile
  // with `no schema with key or ref "http://json-schema.org/draft-06/schema#"`, so checkSchema
  // rejects a perfectly valid schema. Fix: register the draft-06 meta-schema on the draft-07
  // instance (`ajv.addMetaSchema(require('ajv/dist/refs/json-schema-draft-06.json'))`), and either
  // support draft-04 via `ajv-draft-04` or narrow the pattern to the drafts actually supported.
  test('a schema declaring draft-06 is accepted, as the draft-0[4-7] pattern intends', () => {
    expect(validator.checkSchema({ $schema: 'http://json-schema.org/draft-06/schema#', type: 'object' })).toEqual([]);
  });
});

describe('AjvPayloadValidator against hostile schemas', () => {
  const validator = new AjvPayloadValidator();
  const evil = `${'a'.repeat(40)}!`;

  test.each([
    ['pattern', { type: 'string', pattern: '^(a+)+$' }, evil],
    ['patternProperties', { type: 'object', patternProperties: { '^(a|aa)+$': { type: 'number' } } }, { [evil]: 'x' }],
    ['propertyNames', { type: 'object', propertyNames: { pattern: '^([a-z]+)*$' } }, { [evil]: 1 }],
  ])('a catastrophic %s runs in linear time (RE2), not exponential', (_keyword, schema, data) => {
    expect(validator.checkSchema(schema)).toEqual([]);
    const started = performance.now();
    validator.validate(`evil-${_keyword}`, schema, data);
    // Backtracking takes minutes on this input; RE2 takes microseconds. A generous bound for a slow CI.
    expect(performance.now() - started).toBeLessThan(500);
  });

  test('patterns still mean what they say', () => {
    const schema = {
      type: 'object',
      properties: { code: { type: 'string', pattern: '^[A-Z]{3}-\\d+$' } },
      patternProperties: { '^x-': { type: 'string' } },
    };
    expect(validator.validate('p-ok', schema, { code: 'ABC-12', 'x-a': 'y' })).toEqual([]);
    expect(validator.validate('p-ok', schema, { code: 'abc-12' })).toEqual([
      { path: 'payload.code', message: 'must match pattern "^[A-Z]{3}-\\d+$"' },
    ]);
    expect(validator.validate('p-ok', schema, { 'x-a': 1 })).toHaveLength(1);
  });

  test('two patterns in one schema are kept apart (ajv keys compiled patterns by name)', () => {
    const schema = { type: 'object', properties: { a: { type: 'string', pattern: '^a$' }, b: { type: 'string', pattern: '^b$' } } };
    expect(validator.validate('two', schema, { a: 'a', b: 'b' })).toEqual([]);
    expect(validator.validate('two', schema, { a: 'b', b: 'a' })).toHaveLength(2);
  });

  test.each([
    ['lookahead', '(?=a)b'],
    ['lookbehind', '(?<=a)b'],
    ['backreference', '(a)\\1'],
  ])('a pattern with %s is refused at declaration with what to do instead', (_name, pattern) => {
    const [issue] = validator.checkSchema({ type: 'string', pattern });
    expect(issue?.path).toBe('schema');
    expect(issue?.message).toMatch(/RE2 syntax.*linear time/);
  });

  test('more than 32 patterns are refused', () => {
    const properties = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`p${i}`, { type: 'string', pattern: `^${i}$` }]));
    expect(validator.checkSchema({ type: 'object', properties })[0]?.message).toMatch(/more than 32 patterns/);
    delete properties.p32;
    expect(validator.checkSchema({ type: 'object', properties })).toEqual([]);
  });

  test('a pattern over 1000 characters is refused', () => {
    expect(validator.checkSchema({ type: 'string', pattern: 'a'.repeat(1001) })[0]?.message).toMatch(/at most 1000/);
  });

  test('uniqueItems over objects needs maxItems; over scalars it is linear and allowed', () => {
    expect(validator.checkSchema({ type: 'array', uniqueItems: true })).toEqual([
      { path: 'schema', message: expect.stringMatching(/uniqueItems needs scalar items/) },
    ]);
    expect(validator.checkSchema({ properties: { tags: { type: 'array', uniqueItems: true, items: { type: 'object' } } } })[0]?.path).toBe(
      'schema.properties.tags',
    );
    expect(validator.checkSchema({ type: 'array', uniqueItems: true, maxItems: 1000 })).toEqual([]);
    expect(validator.checkSchema({ type: 'array', uniqueItems: true, items: { type: 'string' } })).toEqual([]);
    expect(validator.checkSchema({ const: { uniqueItems: true } })).toEqual([]);
  });

  test('a schema declared before the limits that no longer compiles answers an issue at ingest, not an exception', () => {
    expect(validator.validate('old', { type: 'string', pattern: '(?=a)' }, 'a')).toEqual([
      { path: 'schema', message: expect.stringMatching(/no longer compiles.*declare it again/) },
    ]);
  });

  test('a payload failing everywhere reports at most 20 issues', () => {
    const schema = { type: 'array', items: { type: 'string' } };
    expect(
      validator.validate(
        'many',
        schema,
        Array.from({ length: 5000 }, (_, i) => i),
      ),
    ).toHaveLength(20);
  });

  test('a schema naming __proto__ is refused (ajv cannot see that key), and nothing is polluted', () => {
    const schema = JSON.parse('{"type":"object","properties":{"__proto__":{"type":"string"}}}') as Record<string, unknown>;
    expect(validator.checkSchema(schema)).toEqual([
      { path: 'schema.properties.__proto__', message: expect.stringMatching(/cannot name '__proto__'/) },
    ]);
    expect(({} as { type?: unknown }).type).toBeUndefined();
  });

  test('a payload with own __proto__, constructor and prototype keys validates as plain data', () => {
    const schema = { type: 'object', required: ['a'], properties: { a: { type: 'integer' } } };
    const data = JSON.parse('{"__proto__":{"a":"x"},"constructor":{"prototype":{"a":1}},"a":1}') as unknown;
    expect(validator.validate('proto-data', schema, data)).toEqual([]);
    expect(validator.validate('proto-data', schema, JSON.parse('{"__proto__":{"a":1}}'))).toEqual([
      { path: 'payload', message: "must have required property 'a'" },
    ]);
    expect(({} as { a?: unknown }).a).toBeUndefined();
  });
});
