import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import Ajv2020 from 'ajv/dist/2020.js';
import draft06MetaSchema from 'ajv/dist/refs/json-schema-draft-06.json' with { type: 'json' };
import addFormats from 'ajv-formats';
import type { PayloadSchemaValidator, SchemaIssue } from '../core/ports.ts';

/** Draft-06 and -07 share one Ajv instance; 2020-12 (and 2019-09) the other. Draft-04 is not offered. */
const DRAFT_07 = /json-schema\.org\/draft-0[67]\/schema/;
const MAX_CACHED = 500;

/**
 * JSON Schema validation with ajv: draft 2020-12 by default, draft-07 when the schema says so.
 * Compiling is the expensive part (≈ms), so validators are cached by schema version.
 */
export class AjvPayloadValidator implements PayloadSchemaValidator {
  private readonly modern = addFormats(new Ajv2020({ allErrors: true, strict: false }));
  private readonly draft7 = addFormats(new Ajv({ allErrors: true, strict: false })).addMetaSchema(draft06MetaSchema);
  private readonly cache = new Map<string, ValidateFunction>();

  checkSchema(schema: Record<string, unknown>): readonly SchemaIssue[] {
    try {
      this.compile(schema);
      return [];
    } catch (error) {
      return [{ path: 'schema', message: error instanceof Error ? error.message : String(error) }];
    }
  }

  validate(cacheKey: string, schema: Record<string, unknown>, data: unknown): readonly SchemaIssue[] {
    let validator = this.cache.get(cacheKey);
    if (!validator) {
      validator = this.compile(schema);
      if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(cacheKey, validator);
    }
    return validator(data) ? [] : (validator.errors ?? []).map(toIssue);
  }

  private compile(schema: Record<string, unknown>): ValidateFunction {
    const ajv = typeof schema.$schema === 'string' && DRAFT_07.test(schema.$schema) ? this.draft7 : this.modern;
    // $id would register the schema globally in ajv and clash on the next version of it.
    const { $id: _id, ...anonymous } = schema;
    const validate = ajv.compile(anonymous);
    // Ajv caches every schema object it compiles; this class keeps its own bounded cache instead.
    ajv.removeSchema(anonymous);
    return validate;
  }
}

function toIssue(error: ErrorObject): SchemaIssue {
  const path = `payload${error.instancePath.replaceAll('/', '.')}`;
  const extra = error.keyword === 'additionalProperties' ? ` ('${String(error.params.additionalProperty)}')` : '';
  return { path, message: `${error.message ?? error.keyword}${extra}` };
}
