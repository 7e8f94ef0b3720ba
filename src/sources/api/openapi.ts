import { z } from 'zod';
import { serviceSchema } from '../../model/service.js';
import { registerBodySchema } from '../register/templates.js';

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
        Error: errorSchema,
      },
    },
    security: [{ bearer: [] }],
    paths: {
      '/services': {
        get: { summary: 'List services', responses: { 200: ok('Services') } },
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
          summary: 'Create or replace a service',
          parameters: [...nameParam, waitParam],
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
    },
  };
}
