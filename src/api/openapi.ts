import { z } from 'zod';
import { serviceSchema } from '../model/service.js';
import { registerBodySchema } from '../sources/register/templates.js';
import { groupCreateSchema, userCreateSchema, userUpdateSchema } from '../model/identity.js';
import { linkCreateSchema } from '../model/link.js';
import { providerCreateSchema } from '../model/provider.js';
import { edgeFileJsonSchema, edgePaths } from './openapi-edges.js';

const errorSchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        issues: {
          type: 'array',
          items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } },
        },
      },
      required: ['code', 'message'],
    },
  },
};

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: object) => ({ content: { 'application/json': { schema } } });
const errors = { '4XX': { description: 'Bad input or conflict', ...json(ref('Error')) } };
const ok = (description: string, schema: object = { type: 'object' }) => ({ description, ...json(schema) });
const nameParam = [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }];
const versionParam = [{ name: 'version', in: 'path', required: true, schema: { type: 'integer' } }];
const waitParam = {
  name: 'wait',
  in: 'query',
  schema: { type: 'boolean' },
  description: 'wait until the change is live',
};

/** The management API's OpenAPI 3.1 document; entity schemas come from the model's zod schemas. */
export function openApiDocument(): object {
  return {
    openapi: '3.1.0',
    info: { title: 'Gatehouse management API', version: '1' },
    servers: [{ url: '/api/v1' }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Service: z.toJSONSchema(serviceSchema, { io: 'input', unrepresentable: 'any' }),
        Registration: z.toJSONSchema(registerBodySchema, { io: 'input', unrepresentable: 'any' }),
        User: z.toJSONSchema(userCreateSchema, { io: 'input', unrepresentable: 'any' }),
        UserUpdate: z.toJSONSchema(userUpdateSchema, { io: 'input', unrepresentable: 'any' }),
        Group: z.toJSONSchema(groupCreateSchema, { io: 'input', unrepresentable: 'any' }),
        Link: z.toJSONSchema(linkCreateSchema, { io: 'input', unrepresentable: 'any' }),
        Provider: z.toJSONSchema(providerCreateSchema, { io: 'input', unrepresentable: 'any' }),
        EdgeFile: edgeFileJsonSchema(),
        Error: errorSchema,
      },
    },
    security: [{ bearer: [] }],
    paths: {
      '/services': {
        get: {
          summary:
            'List services, each with a summary: access, upstreams, HTTPS (yes/partial/no/off) and state (up/degraded/down/failing/unchecked/suspended) and state_label in words',
          responses: { 200: ok('Services') },
        },
        post: {
          summary: 'Create a service',
          parameters: [waitParam],
          requestBody: { required: true, ...json(ref('Service')) },
          responses: { 201: ok('Created'), ...errors },
        },
      },
      '/services/{name}': {
        get: {
          summary: 'Show a service',
          parameters: nameParam,
          responses: { 200: ok('Service'), ...errors },
        },
        put: {
          summary: 'Create or replace a service (or, with dry_run, see the diff it would make)',
          parameters: [
            ...nameParam,
            waitParam,
            { name: 'force', in: 'query', schema: { type: 'boolean' } },
            {
              name: 'dry_run',
              in: 'query',
              schema: { type: 'boolean' },
              description:
                'check the change in full and answer {dry_run, changes: [{name, op, patch}]}; write nothing',
            },
            {
              name: 'if_updated_at',
              in: 'query',
              schema: { type: 'string' },
              description:
                "the meta.updated_at last read (or 'absent' for a new service): 409 changed_meanwhile if it differs",
            },
          ],
          requestBody: { required: true, ...json(ref('Service')) },
          responses: { 200: ok('Replaced'), 201: ok('Created'), ...errors },
        },
        delete: {
          summary: 'Delete a service',
          parameters: [...nameParam, waitParam, { name: 'force', in: 'query', schema: { type: 'boolean' } }],
          responses: { 200: ok('Deleted'), ...errors },
        },
      },
      '/snapshots': {
        get: {
          summary: 'List snapshots (registry versions), newest first',
          parameters: [
            { name: 'limit', in: 'query', schema: { type: 'integer' } },
            { name: 'before', in: 'query', schema: { type: 'integer' } },
          ],
          responses: { 200: ok('Snapshots') },
        },
      },
      '/snapshots/{version}': {
        get: {
          summary: 'Show a snapshot with its services and compiled config',
          parameters: versionParam,
          responses: { 200: ok('Snapshot'), ...errors },
        },
      },
      '/snapshots/diff': {
        get: {
          summary: 'Diff two snapshots',
          parameters: [
            { name: 'from', in: 'query', required: true, schema: { type: 'integer' } },
            { name: 'to', in: 'query', schema: { type: 'integer' } },
          ],
          responses: { 200: ok('Per-service YAML patches'), ...errors },
        },
      },
      '/snapshots/{version}/rollback': {
        post: {
          summary: 'Restore the registry as it was at a snapshot (as a new version)',
          parameters: versionParam,
          requestBody: json({
            type: 'object',
            properties: { force: { type: 'boolean' }, wait: { type: 'boolean' } },
          }),
          responses: { 200: ok('Rolled back'), ...errors },
        },
      },
      '/status': {
        get: { summary: 'Proxy state, applied version, last error', responses: { 200: ok('Status') } },
      },
      ...gatePaths(),
      ...edgePaths(),
    },
  };
}

const param = (name: string, type = 'string') => [{ name, in: 'path', required: true, schema: { type } }];
const body = (schema: string) => ({ required: true, ...json(ref(schema)) });

/** Users, groups, sessions, links, providers, events: the gate's part of the API. */
function gatePaths(): Record<string, object> {
  return {
    '/users': {
      get: { summary: 'List users', responses: { 200: ok('Users') } },
      post: {
        summary: 'Create a user',
        requestBody: body('User'),
        responses: { 201: ok('Created'), ...errors },
      },
    },
    '/users/{username}': {
      get: {
        summary: 'Show a user',
        parameters: param('username'),
        responses: { 200: ok('User'), ...errors },
      },
      patch: {
        summary: 'Change a user (password, names, groups, role, disabled)',
        parameters: param('username'),
        requestBody: body('UserUpdate'),
        responses: { 200: ok('Changed'), ...errors },
      },
      delete: {
        summary: 'Remove a user',
        parameters: param('username'),
        responses: { 200: ok('Removed'), ...errors },
      },
    },
    '/users/{username}/totp': {
      post: {
        summary: 'Turn on TOTP: returns the secret, its otpauth URL and recovery codes (shown once)',
        parameters: param('username'),
        responses: { 201: ok('Enrolled'), ...errors },
      },
      delete: {
        summary: 'Turn off TOTP',
        parameters: param('username'),
        responses: { 200: ok('Off'), ...errors },
      },
    },
    '/groups': {
      get: { summary: 'List groups with members', responses: { 200: ok('Groups') } },
      post: {
        summary: 'Create a group',
        requestBody: body('Group'),
        responses: { 201: ok('Created'), ...errors },
      },
    },
    '/groups/{name}': {
      delete: {
        summary: 'Remove a group',
        parameters: nameParam,
        responses: { 200: ok('Removed'), ...errors },
      },
    },
    '/sessions': {
      get: {
        summary: 'List live sessions',
        parameters: [{ name: 'user', in: 'query', schema: { type: 'string' } }],
        responses: { 200: ok('Sessions'), ...errors },
      },
    },
    '/sessions/{id}': {
      delete: {
        summary: 'Revoke a session everywhere',
        parameters: param('id'),
        responses: { 200: ok('Revoked'), ...errors },
      },
    },
    '/links': {
      get: {
        summary: 'List temporary links',
        parameters: [{ name: 'service', in: 'query', schema: { type: 'string' } }],
        responses: { 200: ok('Links') },
      },
      post: {
        summary: 'Create a temporary link (its URL is returned once)',
        requestBody: body('Link'),
        responses: { 201: ok('Created'), ...errors },
      },
    },
    '/links/{id}': {
      get: {
        summary: 'Show a link with its usage log',
        parameters: param('id'),
        responses: { 200: ok('Link'), ...errors },
      },
      delete: {
        summary: 'Revoke a link',
        parameters: param('id'),
        responses: { 200: ok('Revoked'), ...errors },
      },
    },
    '/providers': {
      get: { summary: 'List OIDC providers', responses: { 200: ok('Providers') } },
      post: {
        summary: 'Add an OIDC provider',
        requestBody: body('Provider'),
        responses: { 201: ok('Added'), ...errors },
      },
    },
    '/providers/{name}': {
      get: {
        summary: 'Show a provider (never its secret)',
        parameters: nameParam,
        responses: { 200: ok('Provider'), ...errors },
      },
      delete: {
        summary: 'Remove a provider',
        parameters: nameParam,
        responses: { 200: ok('Removed'), ...errors },
      },
    },
    '/events': {
      get: {
        summary:
          'Security events (kind, ip, username, host, path, detail), newest first, with counts since start',
        parameters: [
          { name: 'kind', in: 'query', schema: { type: 'string' } },
          { name: 'limit', in: 'query', schema: { type: 'integer' } },
        ],
        responses: { 200: ok('Events'), ...errors },
      },
    },
    '/events/summary': {
      get: {
        summary: 'Security events of the last `hours` (default 24), counted by kind',
        parameters: [{ name: 'hours', in: 'query', schema: { type: 'integer' } }],
        responses: { 200: ok('Counts'), ...errors },
      },
    },
    '/audit': {
      get: {
        summary:
          'Audit log: changes made through the API and refused attempts (who, how, from where), newest first',
        parameters: [
          { name: 'limit', in: 'query', schema: { type: 'integer' } },
          {
            name: 'before',
            in: 'query',
            schema: { type: 'integer' },
            description: 'entries older than this id',
          },
          { name: 'actor', in: 'query', schema: { type: 'string' } },
        ],
        responses: { 200: ok('Entries'), ...errors },
      },
    },
  };
}
