import { serviceSchema } from '../../model/service.js';
import { backupCreatedView, backupListView } from './backups.js';
import { deletedView, errorView, okView, revokedView } from './common.js';
import {
  applyReportView,
  certListView,
  certView,
  dnsProviderListView,
  dnsProviderView,
  nodeEnrolledView,
  nodeListView,
} from './edges.js';
import {
  auditListView,
  eventListView,
  eventSummaryView,
  groupCreatedView,
  groupListView,
  linkCreatedView,
  apiKeyCreatedView,
  apiKeyListView,
  linkDetailView,
  linkListView,
  providerListView,
  providerView,
  sessionListView,
  signedInView,
  totpEnrolmentView,
  totpOffView,
  userListView,
  userView,
} from './gate.js';
import {
  rollbackView,
  serviceDeleteView,
  serviceDryRunView,
  serviceListView,
  serviceRecordView,
  serviceWriteView,
  snapshotDiffView,
  snapshotListView,
  snapshotView,
} from './services.js';
import { statusView } from './status.js';
import { crowdsecView } from './crowdsec.js';
import { lanDnsView } from './dns-lan.js';
import { dnsRecordsView } from './dns-records.js';
import { dnsDoctorView } from './dns-doctor.js';
import { rotatedView } from './rotate.js';
import { siteAddedView, siteListView, siteView } from './sites.js';
import {
  alertChannelListView,
  alertChannelView,
  alertListView,
  alertRuleListView,
  alertRuleView,
  alertTestView,
} from './alerts.js';
import { accessLogListView, analyticsView } from './logs.js';
import { vpnClientAddedView, vpnClientListView, vpnGroupListView, vpnGroupView } from './vpn-clients.js';

export * from './backups.js';
export * from './common.js';
export * from './edges.js';
export * from './gate.js';
export * from './services.js';
export * from './status.js';
export * from './rotate.js';
export * from './sites.js';
export * from './vpn-clients.js';
export * from './stream.js';
export * from './dns-lan.js';
export * from './dns-records.js';
export * from './dns-doctor.js';
export * from './alerts.js';
export * from './logs.js';
export * from './crowdsec.js';

/**
 * Every answer the management API documents, by the name the OpenAPI document gives it
 * (components.schemas): the document refers to these, and test/e2e/api-views.test.ts parses each
 * route's real answer with the one its document names.
 */
export const apiViews = {
  StoredService: serviceSchema,
  ServiceRecord: serviceRecordView,
  ServiceList: serviceListView,
  ServiceWrite: serviceWriteView,
  ServiceDryRun: serviceDryRunView,
  ServiceDeleted: serviceDeleteView,
  SnapshotList: snapshotListView,
  Snapshot: snapshotView,
  SnapshotDiff: snapshotDiffView,
  Rollback: rollbackView,
  Status: statusView,
  UserView: userView,
  UserList: userListView,
  TotpEnrolment: totpEnrolmentView,
  TotpOff: totpOffView,
  GroupCreated: groupCreatedView,
  GroupList: groupListView,
  SessionList: sessionListView,
  LinkList: linkListView,
  LinkDetail: linkDetailView,
  LinkCreated: linkCreatedView,
  ApiKeyList: apiKeyListView,
  ApiKeyCreated: apiKeyCreatedView,
  ProviderView: providerView,
  ProviderList: providerListView,
  EventList: eventListView,
  EventSummary: eventSummaryView,
  AuditList: auditListView,
  Crowdsec: crowdsecView,
  SignedIn: signedInView,
  CertView: certView,
  CertList: certListView,
  DnsProviderView: dnsProviderView,
  DnsProviderList: dnsProviderListView,
  LanDns: lanDnsView,
  DnsRecords: dnsRecordsView,
  DnsDoctor: dnsDoctorView,
  NodeList: nodeListView,
  NodeEnrolled: nodeEnrolledView,
  ApplyReport: applyReportView,
  SiteList: siteListView,
  SiteView: siteView,
  SiteAdded: siteAddedView,
  VpnClientList: vpnClientListView,
  VpnClientAdded: vpnClientAddedView,
  VpnGroupView: vpnGroupView,
  VpnGroupList: vpnGroupListView,
  AlertChannelView: alertChannelView,
  AlertChannelList: alertChannelListView,
  AlertTest: alertTestView,
  AlertList: alertListView,
  AlertRuleView: alertRuleView,
  AlertRuleList: alertRuleListView,
  AccessLogList: accessLogListView,
  Analytics: analyticsView,
  BackupList: backupListView,
  BackupCreated: backupCreatedView,
  Rotated: rotatedView,
  Deleted: deletedView,
  Revoked: revokedView,
  Ok: okView,
  Error: errorView,
};
export type ApiViewName = keyof typeof apiViews;
