/**
 * The EMF metrics Sluice publishes (namespace `Sluice`, dimension `service` only: no dimension
 * whose values grow with tenants or endpoints). The functions publish them and the stack's alarms
 * and dashboard read them, both by these names.
 */
export const metricNames = {
  deliveryAttempts: 'DeliveryAttempts',
  deliverySucceeded: 'DeliverySucceeded',
  deliveryFailed: 'DeliveryFailed',
  deliveryLatency: 'DeliveryLatency',
  deadLetters: 'DeadLetters',
  endpointsDisabled: 'EndpointsDisabled',
  deliveryThrottled: 'DeliveryThrottled',
  /** First attempts on the primary lane: the failure-rate alarm's inputs, so one dead receiver and its retries cannot trip it. */
  primaryLaneAttempts: 'PrimaryLaneAttempts',
  primaryLaneFailed: 'PrimaryLaneFailed',
  sweptDeliveries: 'SweptDeliveries',
  sweptMessages: 'SweptMessages',
  messagesDispatched: 'MessagesDispatched',
} as const;
