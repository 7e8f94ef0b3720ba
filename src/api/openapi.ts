import { serviceSchema } from '../model/service.js';
import { registerBodySchema } from '../sources/register/templates.js';
import { groupCreateSchema, userCreateSchema, userUpdateSchema } from '../model/identity.js';
import { linkCreateSchema } from '../model/link.js';
import { apiKeyCreateSchema } from '../model/api-key.js';
import { providerCreateSchema } from '../model/provider.js';
import { rotateBodySchema } from './rotate.js';
import { ROTATE_KINDS } from './views/rotate.js';
import { edgeFileJsonSchema, edgePaths } from './openapi-edges.js';
import { sitePaths } from './openapi-sites.js';
import { vpnClientPaths } from './openapi-vpn-clients.js';
import { dnsLanPaths } from './openapi-dns-lan.js';
import { dnsRecordPaths } from './openapi-dns-records.js';
import { dnsDoctorPaths } from './openapi-dns-doctor.js';
import { alertPaths } from './openapi-alerts.js';
import { logPaths } from './openapi-logs.js';
import {
  body,
  create,
  inputSchema,
  op,
  pathParam,
  query,
  read,
  remove,
  viewSchemas,
} from './openapi-build.js';

const name = pathParam('name');
const version = pathParam('version', 'integer');
const username = pathParam('username');
const id = pathParam('id');
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
        ApiKey: inputSchema(apiKeyCreateSchema),
        Provider: inputSchema(providerCreateSchema),
        Rotate: inputSchema(rotateBodySchema),
        EdgeFile: edgeFileJsonSchema(),
        ...viewSchemas(),
      },
    },
    security: [{ bearer: [] }],
    paths: {
      ...servicePaths(),
      ...gatePaths(),
      ...edgePaths(),
      ...sitePaths(),
      ...vpnClientPaths(),
      ...dnsLanPaths(),
      ...dnsRecordPaths(),
      ...dnsDoctorPaths(),
      ...alertPaths(),
      ...logPaths(),
    },
  };
}

/** Services, snapshots, status. */
function servicePaths(): Record<string, object> {
  return {
    '/services': {
      get: read(
        'List services, each with a summary: access, upstreams, HTTPS (yes/partial/no/off) and state (up/degraded/down/failing/unchecked/suspended) and state_label in words',
        ['Services', 'ServiceList'],
      ),
      post: create('Create a service', body('Service'), ['Created', 'ServiceWrite'], [wait]),
    },
    '/services/{name}': {
      get: read('Show a service', ['Service', 'ServiceRecord'], [name]),
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
      get: read(
        'List snapshots (registry versions), newest first',
        ['Snapshots', 'SnapshotList'],
        [query('limit', 'integer'), query('before', 'integer')],
      ),
    },
    '/snapshots/{version}': {
      get: read('Show a snapshot with its services and compiled config', ['Snapshot', 'Snapshot'], [version]),
    },
    '/snapshots/diff': {
      get: read(
        'Diff two snapshots',
        ['Per-service YAML patches', 'SnapshotDiff'],
        [{ ...query('from', 'integer'), required: true }, query('to', 'integer')],
      ),
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
      get: read('Proxy state, applied version, last error', ['Status', 'Status']),
    },
  };
}

/** Users, groups, sessions, links, providers, events, audit, sign-in: the gate's part of the API. */
function gatePaths(): Record<string, object> {
  const revoked = ['Revoked', 'Revoked'] as const;
  // A file, not JSON: its 200 says so; errors are JSON as everywhere.
  const backupDownload = op({ summary: 'Download a backup file', parameters: [name], answers: {} }) as {
    responses: Record<string, object>;
  };
  backupDownload.responses['200'] = {
    description: 'The encrypted backup (GHBK)',
    content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
  };
  return {
    '/users': {
      get: read('List users', ['Users', 'UserList']),
      post: create('Create a user', body('User'), ['Created', 'UserView']),
    },
    '/users/{username}': {
      get: read('Show a user', ['User', 'UserView'], [username]),
      patch: op({
        summary: 'Change a user (password, names, groups, role, disabled)',
        parameters: [username],
        requestBody: body('UserUpdate'),
        answers: { 200: ['Changed', 'UserView'] },
      }),
      delete: remove('Remove a user', username),
    },
    '/users/{username}/totp': {
      post: op({
        summary: 'Turn on TOTP: returns the secret, its otpauth URL and recovery codes (shown once)',
        parameters: [username],
        answers: { 201: ['Enrolled', 'TotpEnrolment'] },
      }),
      delete: remove('Turn off TOTP', username, ['Off', 'TotpOff']),
    },
    '/groups': {
      get: read('List groups with members', ['Groups', 'GroupList']),
      post: create('Create a group', body('Group'), ['Created', 'GroupCreated']),
    },
    '/groups/{name}': { delete: remove('Remove a group', name) },
    '/sessions': { get: read('List live sessions', ['Sessions', 'SessionList'], [query('user')]) },
    '/sessions/{id}': { delete: remove('Revoke a session everywhere', id, revoked) },
    '/links': {
      get: read('List temporary links', ['Links', 'LinkList'], [query('service')]),
      post: create('Create a temporary link (its URL is returned once)', body('Link'), [
        'Created',
        'LinkCreated',
      ]),
    },
    '/links/{id}': {
      get: read('Show a link with its usage log', ['Link', 'LinkDetail'], [id]),
      delete: remove('Revoke a link', id, revoked),
    },
    '/api-keys': {
      get: read('List API keys (never the keys themselves)', ['API keys', 'ApiKeyList']),
      post: create('Create an API key (the key is returned once)', body('ApiKey'), [
        'Created',
        'ApiKeyCreated',
      ]),
    },
    '/api-keys/{id}': { delete: remove('Revoke an API key everywhere', id, revoked) },
    '/providers': {
      get: read('List OIDC providers', ['Providers', 'ProviderList']),
      post: create('Add an OIDC provider', body('Provider'), ['Added', 'ProviderView']),
    },
    '/providers/{name}': {
      get: read('Show a provider (never its secret)', ['Provider', 'ProviderView'], [name]),
      delete: remove('Remove a provider', name),
    },
    '/events': {
      get: read(
        'Security events (kind, ip, username, host, path, detail), newest first, with counts since start',
        ['Events', 'EventList'],
        [query('kind'), query('limit', 'integer')],
      ),
    },
    '/events/summary': {
      get: read(
        'Security events of the last `hours` (default 24), counted by kind',
        ['Counts', 'EventSummary'],
        [query('hours', 'integer')],
      ),
    },
    '/audit': {
      get: read(
        'Audit log: changes made through the API and refused attempts (who, how, from where), newest first',
        ['Entries', 'AuditList'],
        [query('limit', 'integer'), query('before', 'integer', 'entries older than this id'), query('actor')],
      ),
    },
    '/crowdsec': {
      get: read(
        "CrowdSec: whether its decisions are enforced, the Local API's state, and the active decisions (docs/crowdsec.md)",
        ['State', 'Crowdsec'],
        [query('limit', 'integer', 'how many decisions (1 to 1000, default 100)')],
      ),
    },
    '/backups': {
      get: read('List the backups in the backup directory, and the last run', ['Backups', 'BackupList']),
      post: op({
        summary: 'Write an encrypted backup now (needs GATEHOUSE_BACKUP_PASSPHRASE; see docs/backup.md)',
        answers: { 201: ['Written', 'BackupCreated'] },
      }),
    },
    '/backups/{name}': { get: backupDownload },
    '/rotate/{kind}': {
      post: op({
        summary:
          'Rotate a secret, in force at once (see docs/rotation.md): admin-token, register-token, node-token (body node), session-key (the previous key verifies existing sessions until renewed), data-key (every sealed value re-sealed in one transaction; body new_secret when GATEHOUSE_SECRET is set). A new token is in the answer once.',
        parameters: [{ ...pathParam('kind'), schema: { type: 'string', enum: [...ROTATE_KINDS] } }],
        requestBody: body('Rotate', false),
        answers: { 200: ['Rotated', 'Rotated'] },
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
