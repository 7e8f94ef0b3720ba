import { nodeCreateSchema } from '../edge/nodes.js';
import { dnsProviderSchema } from '../model/dns.js';
import { edgeFileSchema } from '../sources/file/document.js';
import { body, inputSchema, op, pathParam } from './openapi-build.js';

/** Certificates, DNS providers, edge nodes and the edge file: the parts added with issues 4-6. */
export function edgePaths(): Record<string, object> {
  const removed = { 200: ['Removed', 'Deleted'] } as const;
  return {
    '/certificates': {
      get: op({
        summary: 'Certificates and orders (never a key)',
        answers: { 200: ['Certificates', 'CertList'] },
        noErrors: true,
      }),
      post: op({
        summary: 'Upload a certificate and its key (names and validity checked, key must match)',
        requestBody: body(
          {
            type: 'object',
            properties: { cert: { type: 'string' }, key: { type: 'string' } },
            required: ['cert', 'key'],
          },
          false,
        ),
        answers: { 201: ['Stored', 'CertView'] },
      }),
    },
    '/certificates/issue': {
      post: op({
        summary: 'Order a certificate now',
        requestBody: body(
          {
            type: 'object',
            properties: { names: { type: 'array', items: { type: 'string' } } },
            required: ['names'],
          },
          false,
        ),
        answers: { 201: ['Issued', 'CertView'] },
      }),
    },
    '/certificates/{id}/renew': {
      post: op({
        summary: 'Renew now',
        parameters: [pathParam('id')],
        answers: { 201: ['Renewed', 'CertView'] },
      }),
    },
    '/certificates/{id}': {
      delete: op({
        summary: 'Remove (with ?revoke=true: revoke at the CA first)',
        parameters: [pathParam('id')],
        answers: removed,
      }),
    },
    '/dns-providers': {
      get: op({
        summary: 'DNS providers (never a secret)',
        answers: { 200: ['Providers', 'DnsProviderList'] },
        noErrors: true,
      }),
      post: op({
        summary: 'Add a DNS provider for DNS-01',
        requestBody: body(inputSchema(dnsProviderSchema)),
        answers: { 201: ['Added', 'DnsProviderView'] },
      }),
    },
    '/dns-providers/{name}': {
      delete: op({ summary: 'Remove a DNS provider', parameters: [pathParam('name')], answers: removed }),
    },
    '/nodes': {
      get: op({
        summary: 'Edge nodes: role, online, version, applied version, in_sync, down upstreams',
        answers: { 200: ['Nodes', 'NodeList'] },
        noErrors: true,
      }),
      post: op({
        summary: 'Enrol an edge node (its token is shown once)',
        requestBody: body(inputSchema(nodeCreateSchema)),
        answers: { 201: ['Enrolled', 'NodeEnrolled'] },
      }),
    },
    '/nodes/{name}': {
      delete: op({
        summary: 'Remove a node: it stops serving and drops its cache',
        parameters: [pathParam('name')],
        answers: removed,
      }),
    },
    '/apply': {
      post: op({
        summary: 'Apply an edge file (services, users, groups, templates) as one change, owned by the file',
        requestBody: body(
          {
            type: 'object',
            properties: {
              owner: { type: 'string', description: "the file's name" },
              document: { type: 'string', description: 'the file as YAML text; see EdgeFile' },
              dry_run: { type: 'boolean' },
            },
            required: ['owner', 'document'],
          },
          false,
        ),
        answers: { 200: ['What changed (or would)', 'ApplyReport'] },
      }),
    },
  };
}

/** The edge file's structure, for the components section. */
export const edgeFileJsonSchema = (): object => inputSchema(edgeFileSchema);
