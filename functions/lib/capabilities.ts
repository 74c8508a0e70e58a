/**
 * Heavy adapters a function opts into by importing their `use-*` module: the HTTP sender
 * (undici) and the JSON Schema validator (ajv). Entries that never send a webhook or validate a
 * payload do not import them, so esbuild leaves them out of those bundles (about half of each).
 * The container asks for them at first use, so the local stack, which loads every entry into one
 * process, works the same way.
 */

import type { HttpSender, PayloadSchemaValidator } from './core/ports.ts';
import type { SluiceConfig } from './env.ts';

type Factory<T> = (config: SluiceConfig) => T;

const factories: { httpSender?: Factory<HttpSender>; schemaValidator?: Factory<PayloadSchemaValidator> } = {};

export function provideHttpSender(factory: Factory<HttpSender>): void {
  factories.httpSender = factory;
}

export function provideSchemaValidator(factory: Factory<PayloadSchemaValidator>): void {
  factories.schemaValidator = factory;
}

function lazily<T>(name: keyof typeof factories, config: SluiceConfig): () => T {
  let instance: T | undefined;
  return () => {
    const factory = factories[name] as Factory<T> | undefined;
    if (!factory) throw new Error(`this function does not include the ${name}: import its functions/lib/**/use-*.ts module in the entry`);
    instance ??= factory(config);
    return instance;
  };
}

/** An HttpSender that builds the provided one on first use. */
export function lazyHttpSender(config: SluiceConfig): HttpSender {
  const get = lazily<HttpSender>('httpSender', config);
  return { send: (request) => get().send(request) };
}

/** A PayloadSchemaValidator that builds the provided one on first use. */
export function lazySchemaValidator(config: SluiceConfig): PayloadSchemaValidator {
  const get = lazily<PayloadSchemaValidator>('schemaValidator', config);
  return {
    checkSchema: (schema) => get().checkSchema(schema),
    validate: (cacheKey, schema, data) => get().validate(cacheKey, schema, data),
  };
}
