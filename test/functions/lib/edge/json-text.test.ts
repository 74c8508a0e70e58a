import fc from 'fast-check';
import { InvalidJsonError, ValidationError } from '../../../../functions/lib/core/errors.ts';
import { nestingDepth, parseJsonText, topLevelMembers } from '../../../../functions/lib/edge/json-text.ts';

describe('nestingDepth', () => {
  test('counts objects and arrays, not brackets inside strings', () => {
    expect(nestingDepth('{}')).toBe(1);
    expect(nestingDepth('{"a":[{"b":[]}]}')).toBe(4);
    expect(nestingDepth('{"a":"[[[[{{{{\\"[["}')).toBe(1);
    expect(nestingDepth('"no containers"')).toBe(0);
  });

  test('walks 100 000 levels without recursion, and stops early once over the bound', () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    expect(nestingDepth(deep)).toBe(100_000);
    expect(nestingDepth(deep, 64)).toBe(65);
  });
});

describe('parseJsonText', () => {
  test('refuses nesting over the bound with a validation error that names the limit', () => {
    const text = `{"payload":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`;
    const error = (() => {
      try {
        parseJsonText(text, 64);
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toMatch(/more than 64 levels deep/);
  });

  test('accepts exactly the bound', () => {
    expect(() => parseJsonText(`${'['.repeat(64)}${']'.repeat(64)}`, 64)).not.toThrow();
    expect(() => parseJsonText(`${'['.repeat(65)}${']'.repeat(65)}`, 64)).toThrow(ValidationError);
  });

  test('invalid JSON is an InvalidJsonError', () => {
    expect(() => parseJsonText('{"a":', 64)).toThrow(InvalidJsonError);
  });

  test('__proto__ stays an own data property and pollutes nothing', () => {
    const { value } = parseJsonText('{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}', 64);
    expect(Object.hasOwn(value as object, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
  });
});

describe('topLevelMembers', () => {
  test('keeps each member text byte for byte: big numbers, escapes, whitespace, duplicates (last wins)', () => {
    const payload = '{ "n": 12345678901234567890, "s": "caf\\u00e9 \\ud83d\\ude00", "dup": 1, "dup": 2, "__proto__": {"x": [1, 2.50]} }';
    const text = `{"type" : "a.b",\n "payload":  ${payload} , "payload2":[1,"]"] ,"n":-1.5e+300,"t":true,"z":null}`;
    const members = topLevelMembers(text);
    expect(members.get('payload')).toBe(payload);
    expect(members.get('type')).toBe('"a.b"');
    expect(members.get('payload2')).toBe('[1,"]"]');
    expect(members.get('n')).toBe('-1.5e+300');
    expect(members.get('t')).toBe('true');
    expect(members.get('z')).toBe('null');
  });

  test('a repeated member keeps its last value, as JSON.parse does; escaped names decode', () => {
    const members = topLevelMembers('{"payload":{"a":1},"pay\\u006coad":{"b":2}}');
    expect(members.get('payload')).toBe('{"b":2}');
    expect((JSON.parse('{"payload":{"a":1},"pay\\u006coad":{"b":2}}') as { payload: unknown }).payload).toEqual({ b: 2 });
  });

  test('not an object: no members', () => {
    expect(topLevelMembers('[1,2]').size).toBe(0);
  });

  test('property: for any JSON object, each member text parses to what JSON.parse gives for that member', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), fc.constantFrom(0, 2), (object, indent) => {
        const text = JSON.stringify(object, null, indent);
        const members = topLevelMembers(text);
        const parsed = JSON.parse(text) as Record<string, unknown>;
        expect([...members.keys()].sort()).toEqual(Object.keys(parsed).sort());
        for (const [name, memberText] of members) expect(JSON.parse(memberText)).toEqual(parsed[name]);
      }),
      { numRuns: 500 },
    );
  });
});
