// Files fetched over HTTP(S) on the control host (CirrOS releases, playbooks' get_url), with node's own http and https.
// Not fetch: a TLS connection here must also trust the CA file the user gave node in NODE_EXTRA_CA_CERTS, which
// bin/virtlab hands over as VIRTLAB_EXTRA_CA_CERTS so that node does not parse it at the start of every command.
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
import { HostError } from '../errors.ts';

const MAX_REDIRECTS = 10;

let trusted: { file: string; cas: (string | Buffer)[] } | undefined;

/** The CAs of a TLS connection: node's own plus the handed-over file; undefined: node's default store as it is. */
function trustedCas(): (string | Buffer)[] | undefined {
  const file = process.env.VIRTLAB_EXTRA_CA_CERTS;
  if (!file) return undefined;
  if (trusted?.file !== file) {
    let extra: Buffer;
    try {
      extra = readFileSync(file);
    } catch (e) {
      throw new HostError(
        `cannot read the CA file ${file} (NODE_EXTRA_CA_CERTS): ${(e as Error).message}`,
        'point NODE_EXTRA_CA_CERTS at a readable PEM file, or unset it',
      );
    }
    trusted = { file, cas: [...rootCertificates, extra] };
  }
  return trusted.cas;
}

function get(url: URL, signal: AbortSignal): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const options = { signal, headers: { 'user-agent': 'virtlab' } };
    const req =
      url.protocol === 'https:'
        ? httpsRequest(url, { ...options, ca: trustedCas() }, resolve)
        : url.protocol === 'http:'
          ? httpRequest(url, options, resolve)
          : undefined;
    if (!req) {
      reject(new HostError(`cannot download ${url.href}: only http and https URLs are supported`));
      return;
    }
    req.on('error', reject);
    req.end();
  });
}

/**
 * The body of a URL, following redirects; an error says the HTTP status or why the connection failed. The whole
 * download, redirects included, ends within `timeoutMs`.
 */
export async function download(url: string, timeoutMs: number): Promise<Buffer> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    let at = new URL(url);
    for (let hop = 0; ; hop++) {
      const res = await get(at, signal);
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        if (hop >= MAX_REDIRECTS) throw new HostError(`cannot download ${url}: more than ${MAX_REDIRECTS} redirects`);
        at = new URL(res.headers.location, at);
        continue;
      }
      if (status < 200 || status >= 300) {
        res.resume();
        throw new HostError(`cannot download ${url}: HTTP ${status}`);
      }
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      return Buffer.concat(chunks);
    }
  } catch (e) {
    if (e instanceof HostError) throw e;
    const err = e as Error;
    throw new HostError(
      `cannot download ${url}: ${signal.aborted ? `no answer within ${timeoutMs / 1000} s` : err.message}`,
    );
  }
}
