/**
 * Files that are not uploaded unless the bridge is started with --allow-secrets: dotfiles and
 * everything in dot-folders (.env, .env.*, .npmrc, .netrc, .git-credentials, .ssh/, .aws/,
 * .kube/, .docker/, .gnupg/...), and files named like private keys, keystores and credentials.
 * The one place that says what looks secret.
 */
import { basename, sep } from "node:path";

const SECRET_NAMES: readonly RegExp[] = [
  // Private keys and certificate bundles that carry them; key stores; password databases.
  /\.(pem|key|p12|pfx|jks|keystore|kdbx)$/i,
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
  // Terraform state holds every secret the infrastructure was given.
  /\.tfstate(\.backup)?$/i,
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
