/**
 * JSON request text, read twice with care: its nesting is bounded before anything recursive
 * (zod, ajv, JSON.stringify) walks it, and a member's value can be taken as the exact text the
 * client sent, so a payload reaches its receivers byte for byte (big numbers, duplicate keys,
 * `__proto__` and escapes included).
 */
import { InvalidJsonError, ValidationError } from '../core/errors.ts';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

function isWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d;
}

/** The deepest nesting of objects and arrays in `text`, counted without recursion (strings skipped). */
export function nestingDepth(text: string, stopAbove = Number.POSITIVE_INFINITY): number {
  let depth = 0;
  let deepest = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === QUOTE) i = stringEnd(text, i) - 1;
    else if (code === OPEN_BRACE || code === OPEN_BRACKET) {
      depth++;
      if (depth > deepest) deepest = depth;
      if (deepest > stopAbove) return deepest;
    } else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) depth--;
  }
  return deepest;
}

/** Index just past the string token that opens at `start` (or the end of the text, if unterminated). */
function stringEnd(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === BACKSLASH) i++;
    else if (code === QUOTE) return i + 1;
  }
  return text.length;
}

/** Index just past the JSON value that starts at `start`; `text` is known to be valid JSON. */
function valueEnd(text: string, start: number): number {
  const first = text.charCodeAt(start);
  if (first === QUOTE) return stringEnd(text, start);
  if (first !== OPEN_BRACE && first !== OPEN_BRACKET) {
    let i = start;
    while (i < text.length) {
      const code = text.charCodeAt(i);
      if (code === COMMA || code === CLOSE_BRACE || code === CLOSE_BRACKET || isWhitespace(code)) break;
      i++;
    }
    return i;
  }
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === QUOTE) i = stringEnd(text, i) - 1;
    else if (code === OPEN_BRACE || code === OPEN_BRACKET) depth++;
    else if ((code === CLOSE_BRACE || code === CLOSE_BRACKET) && --depth === 0) return i + 1;
  }
  return text.length;
}

function skipWhitespace(text: string, i: number): number {
  while (i < text.length && isWhitespace(text.charCodeAt(i))) i++;
  return i;
}

/**
 * The source text of each member of the top-level object, by decoded name. A repeated name keeps
 * its last value, as `JSON.parse` does. `text` must already have parsed as JSON.
 */
export function topLevelMembers(text: string): ReadonlyMap<string, string> {
  const members = new Map<string, string>();
  let i = skipWhitespace(text, 0);
  if (text.charCodeAt(i) !== OPEN_BRACE) return members;
  i = skipWhitespace(text, i + 1);
  while (i < text.length && text.charCodeAt(i) === QUOTE) {
    const keyEnd = stringEnd(text, i);
    const name = JSON.parse(text.slice(i, keyEnd)) as string;
    i = skipWhitespace(text, keyEnd);
    if (text.charCodeAt(i) !== COLON) break;
    const start = skipWhitespace(text, i + 1);
    const end = valueEnd(text, start);
    members.set(name, text.slice(start, end));
    i = skipWhitespace(text, end);
    if (text.charCodeAt(i) !== COMMA) break;
    i = skipWhitespace(text, i + 1);
  }
  return members;
}

export interface JsonText {
  /** What `JSON.parse` made of the text: own `__proto__` keys stay plain data, nothing is polluted. */
  readonly value: unknown;
  /** A top-level member's value exactly as sent, or undefined when absent. */
  member(name: string): string | undefined;
}

/**
 * Parses a request's JSON text after bounding its nesting: `maxDepth` levels of objects and
 * arrays, so no recursive walk that follows can exhaust the stack.
 */
export function parseJsonText(text: string, maxDepth: number, what = 'the body'): JsonText {
  const depth = nestingDepth(text, maxDepth);
  if (depth > maxDepth) {
    throw new ValidationError(`${what} nests objects and arrays more than ${maxDepth} levels deep; flatten it to at most ${maxDepth}`, [
      { path: 'body', message: `nesting deeper than ${maxDepth} levels` },
    ]);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InvalidJsonError(`${what} is not valid JSON: ${(error as Error).message}`);
  }
  let members: ReadonlyMap<string, string> | undefined;
  return {
    value,
    member: (name) => {
      members ??= topLevelMembers(text);
      return members.get(name);
    },
  };
}
