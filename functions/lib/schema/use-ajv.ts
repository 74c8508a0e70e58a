/** Imported by the entries that check JSON Schemas: wires the ajv validator into the container. */
import { provideSchemaValidator } from '../capabilities.ts';
import { AjvPayloadValidator } from './ajv-validator.ts';

provideSchemaValidator(() => new AjvPayloadValidator());
