/**
 * A JSON document served over https on loopback, with a certificate made for the test: what an
 * OAuth client publishes as its Client ID Metadata Document. The certificate file is handed to
 * `wrangler dev` as NODE_EXTRA_CA_CERTS, so the worker's fetch trusts it, offline.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { createServer } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface HttpsDocument {
  /** The document's https URL (on localhost). */
  url: string;
  /** The PEM file of the certificate the server presents (self-signed, for localhost). */
  certificateFile: string;
  /** How many times the document was fetched. */
  fetches(): number;
  close(): Promise<void>;
}

/** Serves `document(url)` at `path` on a free loopback port. */
export async function serveHttpsDocument(path: string, document: (url: string) => unknown): Promise<HttpsDocument> {
  const dir = mkdtempSync(join(tmpdir(), "zen-https-"));
  const keyFile = join(dir, "key.pem");
  const certificateFile = join(dir, "cert.pem");
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", keyFile, "-out", certificateFile,
  ], { stdio: "ignore" });
  let fetched = 0;
  let url = "";
  const server = createServer({ key: readFileSync(keyFile), cert: readFileSync(certificateFile) }, (request, response) => {
    if (request.url !== path) {
      response.writeHead(404).end();
      return;
    }
    fetched++;
    response.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" }).end(JSON.stringify(document(url)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  url = `https://localhost:${typeof address === "object" && address ? address.port : 0}${path}`;
  return {
    url,
    certificateFile,
    fetches: () => fetched,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
