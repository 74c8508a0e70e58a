/**
 * Answering a CloudFormation custom resource whose service token is a Sluice function itself (no
 * provider framework, so no extra function or role): CloudFormation invokes it asynchronously and
 * waits for a PUT of the outcome to the event's pre-signed S3 URL.
 */
import { request } from 'node:https';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';

export type PutResponse = (url: string, body: string) => Promise<void>;

/**
 * Runs `work` and reports SUCCESS, or FAILED with the error's message (which CloudFormation shows,
 * and which fails the deploy). Only a failed PUT throws, so Lambda's retry answers again.
 */
export async function answerCustomResource(
  event: CloudFormationCustomResourceEvent,
  physicalResourceId: string,
  work: () => Promise<void>,
  put: PutResponse = putResponse,
): Promise<{ status: 'SUCCESS' | 'FAILED'; reason?: string }> {
  let outcome: { status: 'SUCCESS' | 'FAILED'; reason?: string };
  try {
    await work();
    outcome = { status: 'SUCCESS' };
  } catch (error) {
    outcome = { status: 'FAILED', reason: error instanceof Error ? error.message : String(error) };
  }
  const body = JSON.stringify({
    Status: outcome.status,
    Reason: outcome.reason ?? 'done',
    // Kept once created: a new id on an update would make CloudFormation delete the "old" resource.
    PhysicalResourceId: event.RequestType === 'Create' ? physicalResourceId : event.PhysicalResourceId,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
  });
  await put(event.ResponseURL, body);
  return outcome;
}

/** The PUT as AWS's cfn-response sends it: an empty content type, which the URL's signature covers. */
export function putResponse(url: string, body: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'PUT', headers: { 'content-type': '', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode !== undefined && res.statusCode < 300) resolve();
        else reject(new Error(`the custom resource response URL answered ${res.statusCode}`));
      });
    });
    req.setTimeout(10_000, () => req.destroy(new Error('the custom resource response URL did not answer in 10 s')));
    req.on('error', reject);
    req.end(body);
  });
}
