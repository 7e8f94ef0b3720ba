import type { ServiceRecordView } from '../../../src/api/views';
import type { JsonObject } from './draft';

/** GET /services/{name}, its service read as the editor's plain JSON draft. */
export type LoadedService = Omit<ServiceRecordView, 'service'> & { service: JsonObject };

/** The route argument of a service not saved yet. */
export const NEW_SERVICE = '+new';

/** Where the API keeps one service. */
export const servicePath = (name: string) => `/services/${encodeURIComponent(name)}`;

/** What a new service's form starts from. */
export const blankService = (): JsonObject => ({
  hosts: [''],
  routes: [{ path: '/', upstreams: [''] }],
  access: { public: true },
});

/** What a save of a new service says, carried over the page change to its own editor. */
let carried = '';
export function carryOver(message: string): void {
  carried = message;
}
/** The carried message, once: the editor that opens next shows it. */
export function takeCarried(): string {
  const said = carried;
  carried = '';
  return said;
}
