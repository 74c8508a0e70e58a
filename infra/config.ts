/**
 * Deploy-time settings of the Sluice stack, read from CDK context (`cdk.json` or `-c key=value`).
 * Values given on the command line arrive as strings, so booleans and numbers are coerced.
 */
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { z } from 'zod';

/** `true` from cdk.json, `"true"`/`"1"`/`"yes"` (and their negatives) from `-c key=value`. */
const contextBoolean = z.union([z.boolean(), z.stringbool()]);

export const sluiceConfigSchema = z.object({
  /** Names the deployment in tags and the API name; lower-case so it is valid everywhere. */
  stage: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,19}$/, 'stage must be lower-case letters, digits and dashes (at most 20)')
    .default('dev'),
  /** Run the cdk-nag AwsSolutions checks during synth. */
  nag: contextBoolean.default(false),
  /** Guards the ledger against an accidental `DeleteTable`; turn off only for throwaway stages. */
  tableDeletionProtection: contextBoolean.default(true),
  /** Retention of every log group of the stack (Lambda and API access logs). */
  logRetentionDays: z.coerce.number().pipe(z.enum(RetentionDays)).default(RetentionDays.ONE_MONTH),
  /**
   * How long message and delivery history is kept (`SLUICE_RETENTION_DAYS`, DynamoDB TTL). At most
   * 365, as `functions/lib/env.ts` allows: a larger value would fail every cold start.
   */
  historyRetentionDays: z.coerce.number().int().min(1).max(365).default(30),
  /**
   * How overdue work must be before the sweeper re-enqueues it (`SLUICE_SWEEP_GRACE_SECONDS`).
   * Default and bounds are those of `functions/lib/env.ts` (a test keeps them equal).
   */
  sweepGraceSeconds: z.coerce.number().int().min(1).max(3600).default(120),
  /**
   * A run of failed attempts this long disables an endpoint (`SLUICE_ENDPOINT_FAILURE_WINDOW_SECONDS`,
   * default 5 days). Default and bound are those of `functions/lib/env.ts`.
   */
  endpointFailureWindowSeconds: z.coerce
    .number()
    .int()
    .min(1)
    .default(5 * 24 * 3600),
});

export type SluiceConfig = z.output<typeof sluiceConfigSchema>;

/** Reads every key of the schema from the construct's context and validates the lot. */
export function readSluiceConfig(scope: Construct): SluiceConfig {
  const contextValues = Object.fromEntries(Object.keys(sluiceConfigSchema.shape).map((key) => [key, scope.node.tryGetContext(key)]));
  const parsed = sluiceConfigSchema.safeParse(contextValues);
  if (!parsed.success) {
    throw new Error(`Invalid Sluice CDK context:\n${z.prettifyError(parsed.error)}`);
  }
  return parsed.data;
}
