/**
 * JSON text to embed verbatim in an answer (a stored payload): serialised as the text itself, so
 * what a client reads back is exactly what was accepted. Its own module: the edge writes answers
 * with it and need not load the contract's schemas (zod) for that.
 */
export class RawJson {
  constructor(readonly text: string) {}
}
