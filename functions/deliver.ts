import { deliveryConsumer } from './lib/edge/delivery-consumer.ts';

/** Delivery queue consumer: first attempts to healthy endpoints. */
export const handler = deliveryConsumer('primary');
