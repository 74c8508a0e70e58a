import * as z from 'zod';
import { usesNothing } from '../resource-use.ts';
import { defineRoute } from './route-spec.ts';

export const getOpenApi = defineRoute({
  name: 'get-openapi',
  method: 'GET',
  path: '/v1/openapi.json',
  // A static document: no store, no secret.
  uses: usesNothing,
  tag: 'Meta',
  summary: 'This document',
  access: 'public',
  responses: {
    200: { description: 'OpenAPI 3.1 document', schema: z.record(z.string(), z.unknown()) },
    429: { description: "Over the API stage's request rate (deployed stacks)" },
  },
});
