import { z } from 'zod';
import { roleSchema } from '../../model/identity.js';

/** The gate's part of the API: users, groups, sessions, links, OIDC providers, events, audit. */

/** A user: never a hash or a secret. */
export const userView = z.strictObject({
  id: z.string(),
  username: z.string(),
  email: z.string(),
  name: z.string(),
  first_name: z.string(),
  last_name: z.string(),
  role: roleSchema,
  groups: z.array(z.string()),
  disabled: z.boolean(),
  has_password: z.boolean(),
  totp: z.boolean(),
  /** The edge file that manages the user ('': the API's own). */
  managed_by: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
});
export const userListView = z.strictObject({ users: z.array(userView) });

/** POST /users/{username}/totp: shown once. */
export const totpEnrolmentView = z.strictObject({
  secret: z.string(),
  url: z.string(),
  recovery_codes: z.array(z.string()),
});
export const totpOffView = z.strictObject({ username: z.string(), totp: z.literal(false) });

export const groupView = z.strictObject({
  name: z.string(),
  description: z.string(),
  members: z.array(z.string()),
  /** The edge file that manages the group ('': the API's own). */
  managed_by: z.string(),
});
/** POST /groups: the new group (the API's own, so no `managed_by`). */
export const groupCreatedView = groupView.omit({ managed_by: true });
export const groupListView = z.strictObject({ groups: z.array(groupView) });

export const sessionView = z.strictObject({
  id: z.string(),
  user_id: z.string(),
  username: z.string(),
  created_at: z.string(),
  expires_at: z.string(),
  ip: z.string(),
  user_agent: z.string(),
  /** How it was made: the portal, a provider, the API's sign-in. */
  via: z.string(),
});
export const sessionListView = z.strictObject({ sessions: z.array(sessionView) });

export const linkView = z.strictObject({
  id: z.string(),
  service: z.string(),
  created_at: z.string(),
  expires_at: z.string(),
  max_ips: z.number(),
  has_password: z.boolean(),
  note: z.string(),
  /** Per connection of an admitted address (`512k`); null: no limit. */
  bandwidth: z.string().nullable(),
  revoked: z.boolean(),
  state: z.enum(['active', 'expired', 'revoked']),
  ips: z.array(z.strictObject({ ip: z.string(), first_at: z.string() })),
});
export const linkListView = z.strictObject({ links: z.array(linkView) });
export const linkUseView = z.strictObject({
  id: z.number(),
  link_id: z.string(),
  at: z.string(),
  ip: z.string(),
  user_agent: z.string(),
  outcome: z.string(),
});
/** GET /links/{id}: the link with its usage log. */
export const linkDetailView = linkView.extend({ uses: z.array(linkUseView) });
/** POST /links: the link's URL carries its token, shown this once. */
export const linkCreatedView = z.strictObject({ link: linkView, token: z.string(), url: z.string() });

/** An API key: never the key itself (only its SHA-256 is stored). */
export const apiKeyView = z.strictObject({
  id: z.string(),
  name: z.string(),
  services: z.array(z.string()),
  /** The username it acts as; null for a service's key. */
  user: z.string().nullable(),
  created_at: z.string(),
  expires_at: z.string().nullable(),
  state: z.enum(['active', 'expired', 'revoked']),
});
export const apiKeyListView = z.strictObject({ keys: z.array(apiKeyView) });
/** POST /api-keys: the key, shown this once. */
export const apiKeyCreatedView = z.strictObject({ key: apiKeyView, token: z.string() });

/** An OIDC provider: never its client secret. */
export const providerView = z.strictObject({
  name: z.string(),
  label: z.string(),
  issuer: z.string(),
  client_id: z.string(),
  scopes: z.array(z.string()),
  groups_claim: z.string(),
  username_claim: z.string(),
  group_map: z.record(z.string(), z.string()),
  groups_passthrough: z.boolean(),
  created_at: z.string(),
});
export const providerListView = z.strictObject({
  providers: z.array(providerView),
  /** The portal's callback to register at a provider; null without a portal host. */
  redirect_uri: z.string().nullable(),
});

/** A security event as stored (kind, who, from where, about which host and path). */
export const securityEventView = z.strictObject({
  id: z.number(),
  at: z.string(),
  kind: z.string(),
  ip: z.string(),
  username: z.string(),
  detail: z.string(),
  host: z.string(),
  path: z.string(),
});
export const eventListView = z.strictObject({
  events: z.array(securityEventView),
  /** By kind, since Gatehouse started. */
  counts: z.record(z.string(), z.number()),
});
export const eventSummaryView = z.strictObject({
  since: z.string(),
  counts: z.record(z.string(), z.number()),
});
/** The `security` event of GET /stream: an event as it happens (not yet numbered). */
export const securityEventLiveView = securityEventView.omit({ id: true });

export const auditEntryView = z.strictObject({
  id: z.number(),
  at: z.string(),
  actor: z.string(),
  /** How the request was authenticated: token, session, socket, none. */
  via: z.string(),
  ip: z.string(),
  method: z.string(),
  /** Without its query; bodies are never kept. */
  path: z.string(),
  status: z.number(),
});
export const auditListView = z.strictObject({ entries: z.array(auditEntryView) });

/** /session: the signed-in admin of the web UI, and the header its changes must carry. */
export const signedInView = z.strictObject({
  username: z.string(),
  role: z.literal('admin'),
  csrf_header: z.string(),
});

export type UserView = z.infer<typeof userView>;
export type UserList = z.infer<typeof userListView>;
export type TotpEnrolment = z.infer<typeof totpEnrolmentView>;
export type TotpOff = z.infer<typeof totpOffView>;
export type GroupView = z.infer<typeof groupView>;
export type GroupCreated = z.infer<typeof groupCreatedView>;
export type GroupList = z.infer<typeof groupListView>;
export type SessionView = z.infer<typeof sessionView>;
export type SessionList = z.infer<typeof sessionListView>;
export type LinkView = z.infer<typeof linkView>;
export type LinkList = z.infer<typeof linkListView>;
export type LinkUseView = z.infer<typeof linkUseView>;
export type LinkDetail = z.infer<typeof linkDetailView>;
export type LinkCreated = z.infer<typeof linkCreatedView>;
export type ApiKeyView = z.infer<typeof apiKeyView>;
export type ApiKeyList = z.infer<typeof apiKeyListView>;
export type ApiKeyCreated = z.infer<typeof apiKeyCreatedView>;
export type ProviderView = z.infer<typeof providerView>;
export type ProviderList = z.infer<typeof providerListView>;
export type SecurityEventView = z.infer<typeof securityEventView>;
export type EventList = z.infer<typeof eventListView>;
export type EventSummary = z.infer<typeof eventSummaryView>;
export type SecurityEventLive = z.infer<typeof securityEventLiveView>;
export type AuditEntryView = z.infer<typeof auditEntryView>;
export type AuditList = z.infer<typeof auditListView>;
export type SignedIn = z.infer<typeof signedInView>;
