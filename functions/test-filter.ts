import { testFilter } from './lib/api/filter-routes.ts';
import { explainFilter, parseFilter } from './lib/core/filters.ts';
import { httpHandler, noService } from './lib/edge/http.ts';

export const handler = httpHandler(testFilter, noService, async ({ body }) => {
  const explanation = explainFilter(parseFilter(body.filter), {
    type: body.type,
    data: body.payload,
    ...(body.metadata && { metadata: body.metadata }),
  });
  return { status: 200, body: { matches: explanation.matched, explanation } };
});
