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

export const getPortal = defineRoute({
  name: 'get-portal',
  method: 'GET',
  path: '/portal',
  // One static page, built with the bundle: no store, no secret. The portal signs in with a
  // session token it reads from the URL's fragment, which no browser sends here.
  uses: usesNothing,
  tag: 'Meta',
  summary: 'The portal: endpoints, history, dead letters and keys in a browser (text/html)',
  description: 'Open it with the `url` of `POST /v1/portal-sessions`. One self-contained page with a strict Content-Security-Policy.',
  access: 'public',
  responses: {
    200: { description: 'The portal page (text/html)' },
    429: { description: "Over the API stage's request rate (deployed stacks)" },
  },
});
