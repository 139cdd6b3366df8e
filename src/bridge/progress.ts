/**
 * Upload progress for people: a redrawn bar when stderr is a terminal, an occasional line when
 * it is a log (an assistant keeps a stdio server's stderr as a log). Never stdout: in the bridge
 * stdout is the MCP channel.
 */

export interface ProgressOptions {
  stream?: NodeJS.WriteStream;
  /** Also told, at most about once a second, e.g. to send MCP progress notifications. */
  onUpdate?: (message: string) => void;
}

const TTY_REDRAW_MS = 100;
const LOG_LINE_MS = 5_000;
const UPDATE_MS = 1_000;

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

export class UploadProgress {
  private readonly stream: NodeJS.WriteStream;
  private readonly onUpdate: ((message: string) => void) | undefined;
  private readonly tty: boolean;
  private readonly started = Date.now();
  private sentBytes = 0;
  private doneFiles = 0;
  private lastDraw = 0;
  private lastLine = Date.now();
  private lastUpdate = 0;
  private readonly totalBytes: number;
  private readonly totalFiles: number;

  constructor(totalBytes: number, totalFiles: number, options: ProgressOptions = {}) {
    this.totalBytes = totalBytes;
    this.totalFiles = totalFiles;
    this.stream = options.stream ?? process.stderr;
    this.onUpdate = options.onUpdate;
    this.tty = this.stream.isTTY === true;
  }

  /** Bytes read from disk into an upload (retries count again: this is a progress bar, not a ledger). */
  add(bytes: number): void {
    this.sentBytes += bytes;
    this.tick();
  }

  fileDone(): void {
    this.doneFiles++;
    this.tick();
  }

  finish(): void {
    if (this.tty && this.lastDraw > 0) this.stream.write("\r\x1b[K");
  }

  private describe(): string {
    const percent = this.totalBytes > 0 ? Math.min(100, Math.floor((this.sentBytes / this.totalBytes) * 100)) : 100;
    return `${percent}% (${formatBytes(Math.min(this.sentBytes, this.totalBytes))} of ${formatBytes(this.totalBytes)}, ${this.doneFiles} of ${this.totalFiles} files)`;
  }

  private tick(): void {
    const now = Date.now();
    if (this.onUpdate && now - this.lastUpdate >= UPDATE_MS) {
      this.lastUpdate = now;
      this.onUpdate(`Uploading files to the server: ${this.describe()}`);
    }
    if (this.tty) {
      if (now - this.lastDraw < TTY_REDRAW_MS) return;
      this.lastDraw = now;
      const width = 24;
      const filled = this.totalBytes > 0 ? Math.round((Math.min(this.sentBytes, this.totalBytes) / this.totalBytes) * width) : width;
      const bar = "#".repeat(filled) + "-".repeat(width - filled);
      this.stream.write(`\r\x1b[Kzen-bridge: uploading [${bar}] ${this.describe()}`);
    } else if (now - this.lastLine >= LOG_LINE_MS) {
      this.lastLine = now;
      const seconds = ((now - this.started) / 1000).toFixed(0);
      this.stream.write(`zen-bridge: uploading ${this.describe()}, ${seconds} s\n`);
    }
  }
}
