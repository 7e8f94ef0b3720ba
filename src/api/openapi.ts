import { serviceSchema } from '../model/service.js';
import { registerBodySchema } from '../sources/register/templates.js';
import { groupCreateSchema, userCreateSchema, userUpdateSchema } from '../model/identity.js';
import { linkCreateSchema } from '../model/link.js';
import { providerCreateSchema } from '../model/provider.js';
import { edgeFileJsonSchema, edgePaths } from './openapi-edges.js';
import { body, inputSchema, op, pathParam, query, viewSchemas } from './openapi-build.js';

const name = pathParam('name');
const version = pathParam('version', 'integer');
const username = pathParam('username');
const wait = query('wait', 'boolean', 'wait until the change is live');
const force = query('force', 'boolean');

/**
 * The management API's OpenAPI 3.1 document: request schemas come from the model's zod schemas,
 * answers from the API's views (src/api/views).
 */
export function openApiDocument(): object {
  return {
    openapi: '3.1.0',
    info: { title: 'Gatehouse management API', version: '1' },
    servers: [{ url: '/api/v1' }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Service: inputSchema(serviceSchema),
        Registration: inputSchema(registerBodySchema),
        User: inputSchema(userCreateSchema),
        UserUpdate: inputSchema(userUpdateSchema),
        Group: inputSchema(groupCreateSchema),
        Link: inputSchema(linkCreateSchema),
        Provider: inputSchema(providerCreateSchema),
        EdgeFile: edgeFileJsonSchema(),
        ...viewSchemas(),
      },
    },
    security: [{ bearer: [] }],
    paths: { ...servicePaths(), ...gatePaths(), ...edgePaths() },
  };
}

/** Services, snapshots, status. */
function servicePaths(): Record<string, object> {
  return {
    '/services': {
      get: op({
        summary:
          'List services, each with a summary: access, upstreams, HTTPS (yes/partial/no/off) and state (up/degraded/down/failing/unchecked/suspended) and state_label in words',
        answers: { 200: ['Services', 'ServiceList'] },
        noErrors: true,
      }),
      post: op({
        summary: 'Create a service',
        parameters: [wait],
        requestBody: body('Service'),
        answers: { 201: ['Created', 'ServiceWrite'] },
      }),
    },
    '/services/{name}': {
      get: op({
        summary: 'Show a service',
        parameters: [name],
        answers: { 200: ['Service', 'ServiceRecord'] },
      }),
      put: op({
        summary: 'Create or replace a service (or, with dry_run, see the diff it would make)',
        parameters: [
          name,
          wait,
          force,
          query(
            'dry_run',
            'boolean',
            'check the change in full and answer {dry_run, changes: [{name, op, patch}]}; write nothing',
          ),
          query(
            'if_updated_at',
            'string',
            "the meta.updated_at last read (or 'absent' for a new service): 409 changed_meanwhile if it differs",
          ),
        ],
        requestBody: body('Service'),
        answers: {
          200: ['Replaced (or, dry run, what would change)', ['ServiceWrite', 'ServiceDryRun']],
          201: ['Created', 'ServiceWrite'],
        },
      }),
      delete: op({
        summary: 'Delete a service',
        parameters: [name, wait, force],
        answers: { 200: ['Deleted', 'ServiceDeleted'] },
      }),
    },
    '/snapshots': {
      get: op({
        summary: 'List snapshots (registry versions), newest first',
        parameters: [query('limit', 'integer'), query('before', 'integer')],
        answers: { 200: ['Snapshots', 'SnapshotList'] },
        noErrors: true,
      }),
    },
    '/snapshots/{version}': {
      get: op({
        summary: 'Show a snapshot with its services and compiled config',
        parameters: [version],
        answers: { 200: ['Snapshot', 'Snapshot'] },
      }),
    },
    '/snapshots/diff': {
      get: op({
        summary: 'Diff two snapshots',
        parameters: [{ ...query('from', 'integer'), required: true }, query('to', 'integer')],
        answers: { 200: ['Per-service YAML patches', 'SnapshotDiff'] },
      }),
    },
    '/snapshots/{version}/rollback': {
      post: op({
        summary: 'Restore the registry as it was at a snapshot (as a new version)',
        parameters: [version],
        requestBody: body(
          { type: 'object', properties: { force: { type: 'boolean' }, wait: { type: 'boolean' } } },
          false,
        ),
        answers: { 200: ['Rolled back', 'Rollback'] },
      }),
    },
    '/status': {
      get: op({
        summary: 'Proxy state, applied version, last error',
        answers: { 200: ['Status', 'Status'] },
        noErrors: true,
      }),
    },
  };
}

/** Users, groups, sessions, links, providers, events, audit, sign-in: the gate's part of the API. */
function gatePaths(): Record<string, object> {
  const id = pathParam('id');
  const removed = { 200: ['Removed', 'Deleted'] } as const;
  return {
    '/users': {
      get: op({ summary: 'List users', answers: { 200: ['Users', 'UserList'] }, noErrors: true }),
      post: op({
        summary: 'Create a user',
        requestBody: body('User'),
        answers: { 201: ['Created', 'UserView'] },
      }),
    },
    '/users/{username}': {
      get: op({ summary: 'Show a user', parameters: [username], answers: { 200: ['User', 'UserView'] } }),
      patch: op({
        summary: 'Change a user (password, names, groups, role, disabled)',
        parameters: [username],
        requestBody: body('UserUpdate'),
        answers: { 200: ['Changed', 'UserView'] },
      }),
      delete: op({ summary: 'Remove a user', parameters: [username], answers: removed }),
    },
    '/users/{username}/totp': {
      post: op({
        summary: 'Turn on TOTP: returns the secret, its otpauth URL and recovery codes (shown once)',
        parameters: [username],
        answers: { 201: ['Enrolled', 'TotpEnrolment'] },
      }),
      delete: op({ summary: 'Turn off TOTP', parameters: [username], answers: { 200: ['Off', 'TotpOff'] } }),
    },
    '/groups': {
      get: op({
        summary: 'List groups with members',
        answers: { 200: ['Groups', 'GroupList'] },
        noErrors: true,
      }),
      post: op({
        summary: 'Create a group',
        requestBody: body('Group'),
        answers: { 201: ['Created', 'GroupCreated'] },
      }),
    },
    '/groups/{name}': { delete: op({ summary: 'Remove a group', parameters: [name], answers: removed }) },
    '/sessions': {
      get: op({
        summary: 'List live sessions',
        parameters: [query('user')],
        answers: { 200: ['Sessions', 'SessionList'] },
      }),
    },
    '/sessions/{id}': {
      delete: op({
        summary: 'Revoke a session everywhere',
        parameters: [id],
        answers: { 200: ['Revoked', 'Revoked'] },
      }),
    },
    '/links': {
      get: op({
        summary: 'List temporary links',
        parameters: [query('service')],
        answers: { 200: ['Links', 'LinkList'] },
        noErrors: true,
      }),
      post: op({
        summary: 'Create a temporary link (its URL is returned once)',
        requestBody: body('Link'),
        answers: { 201: ['Created', 'LinkCreated'] },
      }),
    },
    '/links/{id}': {
      get: op({
        summary: 'Show a link with its usage log',
        parameters: [id],
        answers: { 200: ['Link', 'LinkDetail'] },
      }),
      delete: op({ summary: 'Revoke a link', parameters: [id], answers: { 200: ['Revoked', 'Revoked'] } }),
    },
    '/providers': {
      get: op({
        summary: 'List OIDC providers',
        answers: { 200: ['Providers', 'ProviderList'] },
        noErrors: true,
      }),
      post: op({
        summary: 'Add an OIDC provider',
        requestBody: body('Provider'),
        answers: { 201: ['Added', 'ProviderView'] },
      }),
    },
    '/providers/{name}': {
      get: op({
        summary: 'Show a provider (never its secret)',
        parameters: [name],
        answers: { 200: ['Provider', 'ProviderView'] },
      }),
      delete: op({ summary: 'Remove a provider', parameters: [name], answers: removed }),
    },
    '/events': {
      get: op({
        summary:
          'Security events (kind, ip, username, host, path, detail), newest first, with counts since start',
        parameters: [query('kind'), query('limit', 'integer')],
        answers: { 200: ['Events', 'EventList'] },
      }),
    },
    '/events/summary': {
      get: op({
        summary: 'Security events of the last `hours` (default 24), counted by kind',
        parameters: [query('hours', 'integer')],
        answers: { 200: ['Counts', 'EventSummary'] },
      }),
    },
    '/audit': {
      get: op({
        summary:
          'Audit log: changes made through the API and refused attempts (who, how, from where), newest first',
        parameters: [
          query('limit', 'integer'),
          query('before', 'integer', 'entries older than this id'),
          query('actor'),
        ],
        answers: { 200: ['Entries', 'AuditList'] },
      }),
    },
    '/session': {
      get: op({
        summary:
          "The web UI's signed-in admin (401 when not signed in; on first run with error.setup_needed)",
        answers: { 200: ['Signed in', 'SignedIn'] },
      }),
      post: op({
        summary:
          'Sign in to the web UI as an admin user (password, and TOTP when enrolled): sets its session cookie',
        requestBody: body({
          type: 'object',
          properties: {
            username: { type: 'string' },
            password: { type: 'string' },
            totp: { type: 'string' },
          },
          required: ['username', 'password'],
        }),
        answers: { 200: ['Signed in', 'SignedIn'] },
      }),
      delete: op({
        summary: 'Sign out of the web UI',
        answers: { 200: ['Signed out', 'Ok'] },
        noErrors: true,
      }),
    },
  };
}
