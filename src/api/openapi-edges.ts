import { z } from 'zod';
import { nodeCreateSchema } from '../edge/nodes.js';
import { dnsProviderSchema } from '../model/dns.js';
import { edgeFileSchema } from '../sources/file/document.js';

const schema = (s: z.ZodType) => z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' });
const json = (s: object) => ({ content: { 'application/json': { schema: s } } });
const ok = (description: string) => ({ description, ...json({ type: 'object' }) });
const errors = {
  '4XX': { description: 'Bad input or conflict', ...json({ $ref: '#/components/schemas/Error' }) },
};
const param = (name: string) => [{ name, in: 'path', required: true, schema: { type: 'string' } }];

/** Certificates, DNS providers, edge nodes and the edge file: the parts added with issues 4-6. */
export function edgePaths(): Record<string, object> {
  return {
    '/certificates': {
      get: { summary: 'Certificates and orders (never a key)', responses: { 200: ok('Certificates') } },
      post: {
        summary: 'Upload a certificate and its key (names and validity checked, key must match)',
        requestBody: json({
          type: 'object',
          properties: { cert: { type: 'string' }, key: { type: 'string' } },
          required: ['cert', 'key'],
        }),
        responses: { 201: ok('Stored'), ...errors },
      },
    },
    '/certificates/issue': {
      post: {
        summary: 'Order a certificate now',
        requestBody: json({
          type: 'object',
          properties: { names: { type: 'array', items: { type: 'string' } } },
          required: ['names'],
        }),
        responses: { 201: ok('Issued'), ...errors },
      },
    },
    '/certificates/{id}/renew': {
      post: { summary: 'Renew now', parameters: param('id'), responses: { 200: ok('Renewed'), ...errors } },
    },
    '/certificates/{id}': {
      delete: {
        summary: 'Remove (with ?revoke=true: revoke at the CA first)',
        parameters: param('id'),
        responses: { 200: ok('Removed'), ...errors },
      },
    },
    '/dns-providers': {
      get: { summary: 'DNS providers (never a secret)', responses: { 200: ok('Providers') } },
      post: {
        summary: 'Add a DNS provider for DNS-01',
        requestBody: { required: true, ...json(schema(dnsProviderSchema)) },
        responses: { 201: ok('Added'), ...errors },
      },
    },
    '/dns-providers/{name}': {
      delete: {
        summary: 'Remove a DNS provider',
        parameters: param('name'),
        responses: { 200: ok('Removed'), ...errors },
      },
    },
    '/nodes': {
      get: {
        summary: 'Edge nodes: role, online, version, applied version, in_sync, down upstreams',
        responses: { 200: ok('Nodes') },
      },
      post: {
        summary: 'Enrol an edge node (its token is shown once)',
        requestBody: { required: true, ...json(schema(nodeCreateSchema)) },
        responses: { 201: ok('Enrolled'), ...errors },
      },
    },
    '/nodes/{name}': {
      delete: {
        summary: 'Remove a node: it stops serving and drops its cache',
        parameters: param('name'),
        responses: { 200: ok('Removed'), ...errors },
      },
    },
    '/apply': {
      post: {
        summary: 'Apply an edge file (services, users, groups, templates) as one change, owned by the file',
        requestBody: json({
          type: 'object',
          properties: {
            owner: { type: 'string', description: "the file's name" },
            document: { type: 'string', description: 'the file as YAML text; see EdgeFile' },
            dry_run: { type: 'boolean' },
          },
          required: ['owner', 'document'],
        }),
        responses: { 200: ok('What changed (or would)'), ...errors },
      },
    },
  };
}

/** The edge file's structure, for the components section. */
export const edgeFileJsonSchema = (): object => schema(edgeFileSchema);
