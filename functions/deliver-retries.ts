import { deliveryConsumer } from './lib/edge/delivery-consumer.ts';

/** Retry-lane consumer: retries, manual attempts, and every job of a failing or slow endpoint. */
export const handler = deliveryConsumer('retry');
