/** Imported by the entries that send webhooks: wires the undici sender into the container. */
import { provideHttpSender } from '../capabilities.ts';
import { AddressPolicy } from './address-policy.ts';
import { UndiciHttpSender } from './undici-sender.ts';

provideHttpSender((config) => new UndiciHttpSender(new AddressPolicy(config.destinations)));
