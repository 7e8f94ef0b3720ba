import { nodeCreateSchema } from '../edge/nodes.js';
import { dnsProviderSchema } from '../model/dns.js';
import { edgeFileSchema } from '../sources/file/document.js';
import { body, create, inputSchema, op, pathParam, read, remove } from './openapi-build.js';

/** A request body object with its `required` fields, then optional ones (the body not marked required, as before). */
const fields = (required: Record<string, object>, optional: Record<string, object> = {}) =>
  body({ type: 'object', properties: { ...required, ...optional }, required: Object.keys(required) }, false);

/** Certificates, DNS providers, edge nodes and the edge file: the parts added with issues 4-6. */
export function edgePaths(): Record<string, object> {
  const id = pathParam('id');
  const name = pathParam('name');
  return {
    '/certificates': {
      get: read('Certificates and orders (never a key)', ['Certificates', 'CertList']),
      post: create(
        'Upload a certificate and its key (names and validity checked, key must match)',
        fields({ cert: { type: 'string' }, key: { type: 'string' } }),
        ['Stored', 'CertView'],
      ),
    },
    '/certificates/issue': {
      post: create(
        'Order a certificate now',
        fields({ names: { type: 'array', items: { type: 'string' } } }),
        ['Issued', 'CertView'],
      ),
    },
    '/certificates/{id}/renew': {
      post: op({ summary: 'Renew now', parameters: [id], answers: { 201: ['Renewed', 'CertView'] } }),
    },
    '/certificates/{id}': { delete: remove('Remove (with ?revoke=true: revoke at the CA first)', id) },
    '/dns-providers': {
      get: read('DNS providers (never a secret)', ['Providers', 'DnsProviderList']),
      post: create('Add a DNS provider for DNS-01', body(inputSchema(dnsProviderSchema)), [
        'Added',
        'DnsProviderView',
      ]),
    },
    '/dns-providers/{name}': { delete: remove('Remove a DNS provider', name) },
    '/nodes': {
      get: read('Edge nodes: role, online, version, applied version, in_sync, down upstreams', [
        'Nodes',
        'NodeList',
      ]),
      post: create('Enrol an edge node (its token is shown once)', body(inputSchema(nodeCreateSchema)), [
        'Enrolled',
        'NodeEnrolled',
      ]),
    },
    '/nodes/{name}': { delete: remove('Remove a node: it stops serving and drops its cache', name) },
    '/apply': {
      post: op({
        summary: 'Apply an edge file (services, users, groups, templates) as one change, owned by the file',
        requestBody: fields(
          {
            owner: { type: 'string', description: "the file's name" },
            document: { type: 'string', description: 'the file as YAML text; see EdgeFile' },
          },
          { dry_run: { type: 'boolean' } },
        ),
        answers: { 200: ['What changed (or would)', 'ApplyReport'] },
      }),
    },
  };
}

/** The edge file's structure, for the components section. */
export const edgeFileJsonSchema = (): object => inputSchema(edgeFileSchema);
