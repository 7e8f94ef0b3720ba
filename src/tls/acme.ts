import * as acme from 'acme-client';
import { readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import { GatehouseError } from '../model/errors.js';
import type { Logger } from '../observe/log.js';
import { generatedSecretWith } from '../store/secrets.js';
import type { Sealer } from '../store/secrets.js';
import type { Db } from '../store/db.js';
import type { DnsProvider } from '../dns/rfc2136.js';

/** How long one request to the CA may take. */
const CA_REQUEST_TIMEOUT_MS = 30_000;

export interface AcmeOptions {
  directory: string;
  email?: string;
  /** PEM CAs to trust for the directory's HTTPS (a private CA; Pebble in tests). */
  caFile?: string;
  keyType: 'ecdsa' | 'rsa';
  /** External account binding (ZeroSSL and other CAs that require one). */
  eab?: { kid: string; hmacKey: string };
}

/** Where HTTP-01 answers go: the edges serve them with the config (see EdgeConfig.acme). */
export interface ChallengeSink {
  add(token: string, keyAuthorization: string): Promise<void>;
  remove(token: string): Promise<void>;
}

/**
 * Obtains certificates from an ACME CA (RFC 8555, acme-client) with HTTP-01: the control plane
 * answers for every edge by pushing the token with the config, then asks the CA to validate. The
 * account key is generated once per directory and stored sealed.
 */
export class AcmeIssuer {
  private client: Promise<acme.Client> | undefined;

  constructor(
    private readonly opts: AcmeOptions,
    private readonly db: Db,
    private readonly sealer: Sealer,
    private readonly challenges: ChallengeSink,
    private readonly log: Logger,
    /** The DNS provider for a name (DNS-01: wildcards), if one is configured. */
    private readonly dns: (name: string) => Promise<DnsProvider | undefined> = async () => undefined,
  ) {}

  /** A certificate (PEM chain) and its key for `names`; `progress` hears each step. */
  async issue(
    names: string[],
    progress: (step: string) => void = () => undefined,
  ): Promise<{ cert: string; key: string }> {
    try {
      return await this.order(names, progress);
    } catch (err) {
      throw await this.explained(err);
    }
  }

  /**
   * acme-client reports a CA that does not answer as an internal TypeError ("reading 'config'"):
   * when the directory cannot be reached, say that instead, with the network's own reason.
   */
  private async explained(err: unknown): Promise<unknown> {
    if (err instanceof GatehouseError) return err;
    const reason = await this.probe();
    return reason
      ? new GatehouseError(
          'acme_unreachable',
          `the CA at ${this.opts.directory} does not answer (${reason})`,
          502,
        )
      : err;
  }

  /**
   * Why the directory cannot be fetched (a network error code), or undefined when it answers. It
   * trusts acme_ca_file as acme-client does: else a private CA's directory would always look down
   * and every other error be blamed on it.
   */
  private async probe(): Promise<string | undefined> {
    const ca = this.opts.caFile ? await readFile(this.opts.caFile, 'utf8').catch(() => undefined) : undefined;
    const url = new URL(this.opts.directory);
    const get = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve) => {
      const req = get(url, { timeout: 3_000, ...(ca ? { ca } : {}) }, (res) => {
        res.resume();
        resolve(undefined);
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
      req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      req.end();
    });
  }

  private async order(
    names: string[],
    progress: (step: string) => void,
  ): Promise<{ cert: string; key: string }> {
    const client = await this.account();
    progress('ordering');
    const order = await client.createOrder({ identifiers: names.map((value) => ({ type: 'dns', value })) });
    const authorizations = await client.getAuthorizations(order);
    const tokens: string[] = [];
    const records: { provider: DnsProvider; fqdn: string; value: string }[] = [];
    try {
      for (const authz of authorizations) {
        if (authz.status === 'valid') continue;
        const name = authz.identifier.value;
        // Wildcards can only be proven in DNS; a name whose zone a DNS provider holds is proven there
        // too (it need not point at this machine); the rest over HTTP, through the edges.
        const provider = await this.dns(name);
        const type = authz.wildcard || provider ? 'dns-01' : 'http-01';
        const challenge = authz.challenges.find((c) => c.type === type);
        if (!challenge) {
          throw new GatehouseError('acme_no_challenge', `${name}: the CA offers no ${type} challenge`, 502);
        }
        const keyAuthorization = await client.getChallengeKeyAuthorization(challenge);
        if (type === 'dns-01') {
          if (!provider) {
            throw new GatehouseError(
              'acme_no_dns',
              `*.${name}: no DNS provider for its zone (needed for a wildcard)`,
              409,
            );
          }
          const fqdn = `_acme-challenge.${name}`;
          records.push({ provider, fqdn, value: keyAuthorization });
          progress(`setting ${fqdn} TXT`);
          await provider.setTxt(fqdn, keyAuthorization);
          progress(`waiting for ${fqdn} on ${provider.zone}'s server`);
          await provider.waitFor(fqdn, keyAuthorization);
        } else {
          // The edges serve the answer before the CA is told to look (an apply, a reload at most).
          progress(`serving the answer for ${name}`);
          await this.challenges.add(challenge.token, keyAuthorization);
          tokens.push(challenge.token);
        }
        progress(`answering for ${authz.wildcard ? '*.' : ''}${name}`);
        await client.completeChallenge(challenge);
        await client.waitForValidStatus(challenge);
      }
      progress('finalizing');
      const [key, csr] =
        this.opts.keyType === 'rsa'
          ? await acme.crypto.createCsr(
              { commonName: names[0], altNames: names },
              await acme.crypto.createPrivateRsaKey(2048),
            )
          : await acme.crypto.createCsr(
              { commonName: names[0], altNames: names },
              await acme.crypto.createPrivateEcdsaKey('P-256'),
            );
      const finalized = await client.finalizeOrder(order, csr);
      const cert = await client.getCertificate(finalized);
      progress('issued');
      return { cert, key: key.toString() };
    } finally {
      for (const t of tokens) await this.challenges.remove(t).catch(() => undefined);
      // Clean up what was put in DNS, whatever happened.
      for (const r of records) await r.provider.removeTxt(r.fqdn, r.value).catch(() => undefined);
    }
  }

  /** Tells the CA a certificate must no longer be trusted (superseded). */
  async revoke(certPem: string): Promise<void> {
    const client = await this.account();
    await client.revokeCertificate(certPem, { reason: 4 });
  }

  private account(): Promise<acme.Client> {
    this.client ??= (async () => {
      // Fail fast on an unreachable CA: the certificate manager retries each order with its own
      // backoff, and an operator asking now should hear now (acme-client would wait ~25 s).
      const settings = (acme.axios.defaults as { acmeSettings?: Record<string, number> }).acmeSettings;
      if (settings) {
        settings.retryMaxAttempts = 1;
        settings.retryDefaultDelay = 1;
      }
      // A CA that stops answering fails the order (retried with the manager's backoff) instead of
      // holding it, and the operator who asked, for ever: axios waits without end by default.
      acme.axios.defaults.timeout = CA_REQUEST_TIMEOUT_MS;
      if (this.opts.caFile) {
        // acme-client makes its requests through this axios instance.
        acme.axios.defaults.httpsAgent = new Agent({ ca: await readFile(this.opts.caFile, 'utf8') });
      }
      const accountKey = await generatedSecretWith(
        this.db,
        this.sealer,
        `acme-account ${this.opts.directory}`,
        async () => (await acme.crypto.createPrivateEcdsaKey('P-256')).toString(),
      );
      const client = new acme.Client({
        directoryUrl: this.opts.directory,
        accountKey,
        // Poll a pending challenge or order from 1 s up (acme-client starts at 5 s and doubles: one
        // slow validation cost an operator 15 s of waiting, a second one 35 s). ~90 s in all.
        backoffMin: 1_000,
        backoffMax: 10_000,
        backoffAttempts: 13,
        ...(this.opts.eab
          ? { externalAccountBinding: { kid: this.opts.eab.kid, hmacKey: this.opts.eab.hmacKey } }
          : {}),
      });
      // The key may have an account already (made by another replica, or before a restart): asking
      // to create it again makes acme-client send an update with no change, which CAs refuse
      // ("Use POST-as-GET to retrieve account data"). Look it up first; create it only if missing.
      const existing = await client.createAccount({ onlyReturnExisting: true }).then(
        () => true,
        () => false,
      );
      if (!existing)
        await client.createAccount({
          termsOfServiceAgreed: true,
          ...(this.opts.email ? { contact: [`mailto:${this.opts.email}`] } : {}),
        });
      this.log.info({ directory: this.opts.directory }, 'ACME account ready');
      return client;
    })().catch((err: unknown) => {
      this.client = undefined;
      throw err;
    });
    return this.client;
  }
}
