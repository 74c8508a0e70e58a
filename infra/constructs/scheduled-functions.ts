import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { ScheduledFunctionDescription } from '../description.ts';
import { constructIdFor, SluiceFunction } from './sluice-function.ts';

export interface ScheduledFunctionsProps {
  readonly scheduledFunctions: readonly ScheduledFunctionDescription[];
  readonly environment: Readonly<Record<string, string>>;
  readonly logRetention: logs.RetentionDays;
}

/** What EventBridge accepts as a rule schedule: `rate(...)` or `cron(...)`. */
const scheduleExpressionPattern = /^(rate|cron)\(.+\)$/;

/** Functions run on a timer (the sweeper): one function and one EventBridge schedule rule each. */
export class ScheduledFunctions extends Construct {
  /** Scheduled functions by name (`functions/<name>.ts`). */
  readonly functions: ReadonlyMap<string, SluiceFunction>;
  /** The schedule rule of each function, by function name. */
  readonly rules: ReadonlyMap<string, events.Rule>;

  constructor(scope: Construct, id: string, props: ScheduledFunctionsProps) {
    super(scope, id);

    const functions = new Map<string, SluiceFunction>();
    const rules = new Map<string, events.Rule>();
    for (const description of props.scheduledFunctions) {
      if (!scheduleExpressionPattern.test(description.schedule)) {
        throw new Error(`Scheduled function ${description.name}: ${description.schedule} is no rate(...) or cron(...) expression`);
      }
      const constructId = constructIdFor(description.name);
      const scheduledFunction = new SluiceFunction(this, constructId, {
        description,
        environment: props.environment,
        logRetention: props.logRetention,
      });
      const rule = new events.Rule(this, `${constructId}Schedule`, {
        description: `Runs Sluice ${description.name} on ${description.schedule}`,
        schedule: events.Schedule.expression(description.schedule),
        targets: [
          new targets.LambdaFunction(scheduledFunction.lambdaFunction, {
            // A tick EventBridge could not hand over (e.g. throttled) is retried only briefly:
            // the next tick does the same work anyway, so a backlog of old ticks is useless.
            retryAttempts: 2,
            maxEventAge: Duration.seconds(Math.max(60, description.everySeconds)),
          }),
        ],
      });
      functions.set(description.name, scheduledFunction);
      rules.set(description.name, rule);
    }
    this.functions = functions;
    this.rules = rules;
  }

  /** The scheduled function; throws when there is none of that name (e.g. after a rename). */
  functionFor(name: string): SluiceFunction {
    const scheduledFunction = this.functions.get(name);
    if (!scheduledFunction) throw new Error(`No scheduled function named ${name}`);
    return scheduledFunction;
  }

  /** The schedule rule of the function; throws when there is none of that name. */
  ruleFor(name: string): events.Rule {
    const rule = this.rules.get(name);
    if (!rule) throw new Error(`No schedule rule for ${name}`);
    return rule;
  }
}
