import fs from 'node:fs';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

// Example event-type catalogs loaded by `npm start -- --with-examples`.
// Every file in the folder is checked, so a new catalog is covered without touching this test.

const CATALOG_DIR = path.join(process.cwd(), 'infra/local/catalogs');
const NAME_RE = /^[a-z0-9_]+(\.[a-z0-9_]+)*$/;
const DRAFT_2020_12 = 'https://json-schema.org/draft/2020-12/schema';

const EXPECTED_NAMES = [
  'lock.locked',
  'lock.unlocked',
  'subscription.created',
  'subscription.updated',
  'subscription.ended',
  'contract.purchased',
  'user.signed_up',
  'user.updated',
  'extension_session.created',
  'extension_session.updated',
  'extension_session.deleted',
  'action_log.created',
];

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

interface EventTypeEntry {
  name: string;
  description: string;
  schema: JsonObject;
  example: JsonObject;
}

interface Catalog {
  catalog: string;
  description: string;
  eventTypes: EventTypeEntry[];
}

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

const isOneLine = (v: unknown): v is string => typeof v === 'string' && v.trim().length > 0 && !/[\r\n]/.test(v);

const files = fs
  .readdirSync(CATALOG_DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();

const loaded: { file: string; catalog: Catalog }[] = files.map((f) => ({
  file: f,
  catalog: JSON.parse(fs.readFileSync(path.join(process.cwd(), 'infra/local/catalogs', f), 'utf8')),
}));

const entries = loaded.flatMap(({ file, catalog }) =>
  (Array.isArray(catalog.eventTypes) ? catalog.eventTypes : []).map((et) => ({ file, et })),
);

function newAjv(): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  addFormats(ajv);
  return ajv;
}

/** A value of a JSON type different from `value`'s own type. */
function wrongTypeFor(value: Json): Json {
  if (typeof value === 'string') return 12345;
  if (typeof value === 'number') return 'not-a-number';
  if (typeof value === 'boolean') return 'not-a-boolean';
  if (Array.isArray(value)) return 'not-an-array';
  if (value === null) return { unexpected: 'object' };
  return 'not-an-object';
}

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v));

describe('example event-type catalogs', () => {
  it('has catalog files', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  it('declares exactly the expected event types, each name unique across catalogs', () => {
    const names = entries.map(({ et }) => et.name);
    const duplicates = names.filter((n, i) => names.indexOf(n) !== i);
    expect(duplicates).toEqual([]);
    expect([...names].sort()).toEqual([...EXPECTED_NAMES].sort());
  });

  it('uses unique catalog names', () => {
    const names = loaded.map(({ catalog }) => catalog.catalog);
    expect(new Set(names).size).toBe(names.length);
  });

  describe.each(loaded)('$file', ({ catalog }) => {
    it('has the catalog shape', () => {
      expect(isObject(catalog)).toBe(true);
      expect(Object.keys(catalog).sort()).toEqual(['catalog', 'description', 'eventTypes']);
      expect(typeof catalog.catalog).toBe('string');
      expect(catalog.catalog).toMatch(NAME_RE);
      expect(isOneLine(catalog.description)).toBe(true);
      expect(Array.isArray(catalog.eventTypes)).toBe(true);
      expect(catalog.eventTypes.length).toBeGreaterThan(0);
    });

    it('has well-formed event type entries', () => {
      for (const et of catalog.eventTypes) {
        expect(isObject(et)).toBe(true);
        expect(Object.keys(et).sort()).toEqual(['description', 'example', 'name', 'schema']);
        expect(typeof et.name).toBe('string');
        expect(et.name).toMatch(NAME_RE);
        expect(isOneLine(et.description)).toBe(true);
        expect(isObject(et.schema)).toBe(true);
        expect(isObject(et.example)).toBe(true);
      }
    });
  });

  describe.each(entries.map(({ file, et }) => ({ label: `${file} ${et.name}`, et })))('$label', ({ et }) => {
    const { schema, example } = et;
    const required = (Array.isArray(schema.required) ? schema.required : []) as string[];

    it('has a draft 2020-12 object schema open at the top level', () => {
      expect(schema.$schema).toBe(DRAFT_2020_12);
      expect(schema.type).toBe('object');
      expect(schema.additionalProperties).toBe(true);
      expect(isObject(schema.properties)).toBe(true);
      expect(required.length).toBeGreaterThan(0);
      const properties = schema.properties as JsonObject;
      for (const field of required) {
        expect(Object.keys(properties)).toContain(field);
      }
    });

    it('compiles with Ajv2020 and ajv-formats', () => {
      expect(() => newAjv().compile(schema)).not.toThrow();
    });

    it('validates its example', () => {
      const validate = newAjv().compile(schema);
      const ok = validate(example);
      expect(validate.errors ?? []).toEqual([]);
      expect(ok).toBe(true);
    });

    it('rejects the example with any required field removed', () => {
      const validate = newAjv().compile(schema);
      for (const field of required) {
        expect(Object.keys(example)).toContain(field);
        const mutated = clone(example);
        delete mutated[field];
        expect({ field, valid: validate(mutated) }).toEqual({ field, valid: false });
      }
    });

    it('rejects the example with any top-level field given a wrong type', () => {
      const validate = newAjv().compile(schema);
      for (const [field, value] of Object.entries(example)) {
        const mutated = clone(example);
        mutated[field] = wrongTypeFor(value);
        expect({ field, valid: validate(mutated) }).toEqual({ field, valid: false });
      }
    });
  });
});
