import * as z from 'zod';
import { EndpointFilter } from './catalog-routes.ts';
import { MessageMetadata } from './message-routes.ts';
import { defineRoute, ErrorBody, errorResponses, IdParams, jsonObject, notFound } from './route-spec.ts';

// Filters (docs/filters.md): try one against a message before relying on it.

/** The message a filter is tried on, as `POST /v1/messages` would take it. */
const SampleMessage = {
  type: z.string().min(1).max(200),
  payload: jsonObject('The payload, as it would be posted'),
  metadata: MessageMetadata.optional(),
};

const FilterExplanation = jsonObject(
  'The filter, condition by condition: `{operator, matched, conditions}` for `$and`, `$or` and `$not`; `{path, operator, operand, found, matched}` for a comparison, where `found` holds what the path reached in the message (at most 5 values)',
);

export const FilterResult = z
  .object({
    matches: z.boolean().meta({ description: 'The filter holds for the message' }),
    explanation: FilterExplanation,
  })
  .meta({ id: 'FilterResult' });

export const EndpointFilterResult = z
  .object({
    matches: z.boolean().meta({ description: 'The endpoint would get the message: subscribed to its type, and its filter (if any) holds' }),
    subscribed: z.boolean().meta({ description: "The message's type is one of the endpoint's event types (or it has none)" }),
    explanation: FilterExplanation.optional().meta({ description: 'Absent when the endpoint has no filter' }),
  })
  .meta({ id: 'EndpointFilterResult' });

export const testEndpointFilter = defineRoute({
  name: 'test-endpoint-filter',
  method: 'POST',
  path: '/v1/endpoints/{id}/filter/test',
  // The endpoint (Get); nothing is written and no message is stored.
  uses: { ledger: 'read' },
  tag: 'Endpoints',
  summary: 'Would this message reach the endpoint? Its event types and its filter, explained',
  access: ['admin'],
  params: IdParams,
  body: z.strictObject(SampleMessage),
  responses: { 200: { description: 'The verdict and why', schema: EndpointFilterResult }, ...errorResponses, ...notFound },
});

export const testFilter = defineRoute({
  name: 'test-filter',
  method: 'POST',
  path: '/v1/filters/test',
  // Evaluated in the request: nothing read but the caller's key.
  uses: { ledger: 'read' },
  tag: 'Endpoints',
  summary: 'Check a filter and try it on a message, before setting it on an endpoint',
  access: ['admin'],
  body: z.strictObject({ filter: EndpointFilter, ...SampleMessage }),
  responses: {
    200: { description: 'The verdict and why', schema: FilterResult },
    ...errorResponses,
    400: { description: 'Malformed request, or an invalid filter (each problem named in `details`)', schema: ErrorBody },
  },
});
