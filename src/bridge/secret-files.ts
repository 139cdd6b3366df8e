/**
 * Files that are not uploaded unless the bridge is started with --allow-secrets: dotfiles and
 * everything in dot-folders (.env, .env.*, .npmrc, .netrc, .git-credentials, .ssh/, .aws/,
 * .kube/, .docker/, .gnupg/...), files named like private keys, keystores and credentials, and
 * files whose content holds a private key whatever their name.
 * The one place that says what looks secret.
 */
import { createReadStream } from "node:fs";
import { basename, sep } from "node:path";

const SECRET_NAMES: readonly RegExp[] = [
  // Private keys and certificate bundles that carry them; key stores; password databases;
  // PuTTY keys; Kerberos keytabs; ASCII-armoured PGP keys.
  /\.(pem|key|p12|pfx|jks|keystore|kdbx|ppk|keytab|asc)$/i,
  // SSH keys (and their .pub halves, harmless but never needed for a review).
  /^id_(rsa|dsa|ecdsa|ed25519)/i,
  // Environment files by another name: prod.env, local.env.
  /\.env$/i,
  // Cluster and cloud credentials: kubeconfig, admin.kubeconfig, credentials, credentials.json,
  // service-account keys, OAuth client secrets.
  /kubeconfig/i,
  /^credentials(\.[a-z]+)?$/i,
  /^service[-_]?account.*\.json$/i,
  /^client[-_]secret.*\.json$/i,
  // Secrets by their usual names: secrets.yaml, secrets.json, token.txt, htpasswd.
  /^secrets?\.(ya?ml|json)$/i,
  /^tokens?\.txt$/i,
  /^htpasswd$/i,
  // Terraform state holds every secret the infrastructure was given; tfvars the ones it is given.
  /\.tfstate(\.backup)?$/i,
  /\.tfvars(\.json)?$/i,
  // A cryptocurrency wallet; a VPN profile, which usually embeds its client key.
  /^wallet\.dat$/i,
  /\.ovpn$/i,
];

/** Whether a file's name alone marks it as secret (dotfiles included). */
export function isSecretName(name: string): boolean {
  return name.startsWith(".") || SECRET_NAMES.some((pattern) => pattern.test(name));
}

/** Whether a path below the upload root is secret: a dot-folder on the way, or a secret name. */
export function isSecretPath(relativePath: string): boolean {
  const parts = relativePath.split(sep).filter((part) => part !== "");
  return parts.some((part) => part.startsWith(".")) || isSecretName(basename(relativePath));
}

/** A PEM private key block (RSA, EC, DSA, OpenSSH, PKCS #8, encrypted or not) or a PGP private key block. */
const PRIVATE_KEY_BLOCK = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----/;
/** The first line of a PuTTY key file. */
const PUTTY_KEY_FILE = /^PuTTY-User-Key-File-\d+:/;
/** Longer than a block marker: what a read keeps of the one before, so a marker cut between reads is still found. */
const MARKER_OVERLAP = 64;

/**
 * Whether a file holds a private key anywhere in it, read once from start to end. The bytes are
 * searched as latin1, one character per byte, so binary content cannot break the search.
 */
export async function holdsPrivateKey(path: string): Promise<boolean> {
  let tail = "";
  let first = true;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    const text = tail + (chunk as Buffer).toString("latin1");
    if ((first && PUTTY_KEY_FILE.test(text)) || PRIVATE_KEY_BLOCK.test(text)) return true;
    first = false;
    tail = text.slice(-MARKER_OVERLAP);
  }
  return false;
}
