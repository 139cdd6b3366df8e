import { raw } from "hono/html";
import type { Child } from "hono/jsx";
import type { Thread, Turn } from "../../core/rpc/conversation";
import type { UsageReport } from "../../providers/usage";
import { SERVER_NAME } from "../../core/version";
import type { BreakerRow, CacheRow, Health, ModelRow, TeamStatus } from "./data";
import { formatTokens, layoutUsageChart, UsageChart } from "./usage-chart";

// Every value is escaped by hono/jsx: thread titles and turns hold whatever a prompt or a model said.

const STYLE = `
  body { font: 15px/1.5 system-ui, sans-serif; margin: 0; background: #f5f5f4; color: #1c1917; }
  main { max-width: 64rem; margin: 0 auto; padding: 1rem; }
  header { display: flex; flex-wrap: wrap; gap: 0.5rem 1rem; align-items: baseline; justify-content: space-between; }
  h1 { font-size: 1.35rem; margin: 0.5rem 0; }
  h2 { font-size: 1.1rem; margin: 0.25rem 0 0.5rem; }
  section, .card { background: #fff; border-radius: 0.6rem; box-shadow: 0 1px 3px #0002; padding: 0.75rem 1rem; margin-bottom: 1rem; }
  .muted { color: #57534e; font-size: 0.9rem; }
  .error, .notice { padding: 0.5rem 0.75rem; border-radius: 0.4rem; }
  .error { background: #fee2e2; }
  .notice { background: #fef3c7; }
  .scroll { overflow-x: auto; }
  table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
  th, td { text-align: left; padding: 0.3rem 0.5rem; border-bottom: 1px solid #e7e5e4; vertical-align: top; }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  .state { font-weight: 600; padding: 0 0.4rem; border-radius: 0.3rem; white-space: nowrap; }
  .state-closed, .status-ok { background: #dcfce7; }
  .state-open, .status-no_provider { background: #fee2e2; }
  .state-half_open { background: #fef3c7; }
  .chart { width: 100%; max-width: 44rem; height: auto; display: block; }
  .legend { display: flex; flex-wrap: wrap; gap: 0.25rem 1rem; list-style: none; padding: 0; margin: 0.5rem 0; font-size: 0.85rem; }
  .legend svg { vertical-align: -1px; margin-right: 0.3rem; }
  form.inline { display: inline; }
  button.link { font: inherit; background: none; border: none; padding: 0; color: #1d4ed8; text-decoration: underline; cursor: pointer; }
  label { display: block; font-weight: 600; }
  input[type=password] { width: 100%; max-width: 24rem; box-sizing: border-box; padding: 0.45rem; font: inherit; margin: 0.3rem 0 0.6rem; }
  button.primary { font: inherit; padding: 0.4rem 1.1rem; border-radius: 0.4rem; border: 1px solid #1c1917; background: #1c1917; color: #fff; cursor: pointer; }
  a { color: #1d4ed8; }
  article.turn { border-top: 1px solid #e7e5e4; padding: 0.5rem 0; }
  article.turn:first-of-type { border-top: none; }
  pre { white-space: pre-wrap; overflow-wrap: anywhere; font: 0.85rem/1.45 ui-monospace, monospace; margin: 0.3rem 0 0; background: #fafaf9; padding: 0.5rem; border-radius: 0.3rem; }
  summary { cursor: pointer; }
  @media (max-width: 40rem) {
    main { padding: 0.5rem; }
    th, td { white-space: nowrap; }
    td.wrap { white-space: normal; min-width: 12rem; }
    /* The chart shrinks with the screen: larger text, every other day labelled. */
    .chart text { font-size: 20px; }
    .chart .alternate { display: none; }
  }
`;

function Layout({ title, nonce, children }: { title: string; nonce: string | undefined; children: Child }) {
  return (
    <>
      {raw("<!doctype html>")}
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <title>{title}</title>
          <style nonce={nonce} dangerouslySetInnerHTML={{ __html: STYLE }} />
        </head>
        <body>
          <main>{children}</main>
        </body>
      </html>
    </>
  );
}

/** 2026-11-26 07:50 UTC: the page has no script, so it cannot show the reader's local time. */
export function utcTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

function Time({ ms }: { ms: number }) {
  return <time datetime={new Date(ms).toISOString()}>{utcTime(ms)}</time>;
}

const STATUS_TEXT: Record<Health["status"], string> = { ok: "ok", no_provider: "no provider configured" };

function HealthLine({ health }: { health: Health }) {
  return (
    <p>
      Status: <span class={`state status-${health.status}`}>{STATUS_TEXT[health.status]}</span> · version {health.version}
    </p>
  );
}

/** What anyone sees: health and version, and where TEAM_TOKENS is set, the sign-in form. */
export function PublicPage(props: { health: Health; nonce: string | undefined; signIn: boolean; error?: string; notice?: string }) {
  return (
    <Layout title={`${SERVER_NAME} status`} nonce={props.nonce}>
      <h1>{SERVER_NAME}</h1>
      <section>
        <HealthLine health={props.health} />
      </section>
      {props.signIn ? (
        <section>
          <h2>Team view</h2>
          {props.notice ? <p class="notice">{props.notice}</p> : null}
          {props.error ? (
            <p class="error" role="alert">
              {props.error}
            </p>
          ) : null}
          <form method="post" action="/">
            <label for="team_token">Team token</label>
            <input id="team_token" name="team_token" type="password" autocomplete="off" required />
            <br />
            <button class="primary" type="submit">
              Sign in
            </button>
          </form>
          <p class="muted">Kept for this browser session only; sign out clears it.</p>
        </section>
      ) : null}
    </Layout>
  );
}

function TeamHeader({ team, signedIn }: { team: string; signedIn: boolean }) {
  return (
    <header>
      <h1>
        <a href="/">{SERVER_NAME}</a>
      </h1>
      <span class="muted">
        team <strong>{team}</strong>
        {signedIn ? (
          <>
            {" · "}
            <form class="inline" method="post" action="/sign-out">
              <button class="link" type="submit">
                Sign out
              </button>
            </form>
          </>
        ) : null}
      </span>
    </header>
  );
}

const STATE_TEXT: Record<BreakerRow["state"], string> = { closed: "closed", open: "open", half_open: "half-open" };

function retryText(row: BreakerRow, now: number): string {
  if (row.retryAt === undefined) return "–";
  if (row.retryAt <= now) return "now (next call probes)";
  return `${utcTime(row.retryAt)} (in ${Math.ceil((row.retryAt - now) / 1000)} s)`;
}

function Providers({ rows, withoutModels, now }: { rows: BreakerRow[]; withoutModels: string[]; now: number }) {
  if (rows.length === 0 && withoutModels.length === 0) {
    return <p class="notice">No provider is configured. Add an API key (see /health or the README) to call models.</p>;
  }
  return (
    <div class="scroll">
      <table id="providers">
        <thead>
          <tr>
            <th>provider</th>
            <th>models</th>
            <th>breaker</th>
            <th class="num">failures</th>
            <th>retry</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr>
              <td>{row.provider}</td>
              <td>{row.models}</td>
              <td>
                <span class={`state state-${row.state}`}>{STATE_TEXT[row.state]}</span>
              </td>
              <td class="num">{row.failures}</td>
              <td>{retryText(row, now)}</td>
            </tr>
          ))}
          {withoutModels.map((provider) => (
            <tr>
              <td>{provider}</td>
              <td colspan={4}>no model allowed by its *_ALLOWED_MODELS</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function formatContext(tokens: number): string {
  return tokens >= 1_000_000 ? `${Number((tokens / 1_048_576).toFixed(1))}M` : `${Math.round(tokens / 1_000)}K`;
}

function Models({ models }: { models: ModelRow[] }) {
  if (models.length === 0) return <p class="muted">No models available.</p>;
  return (
    <div class="scroll">
      <table id="models">
        <thead>
          <tr>
            <th>model</th>
            <th>provider</th>
            <th class="num">context</th>
            <th class="num">score</th>
            <th>aliases</th>
          </tr>
        </thead>
        <tbody>
          {models.map((model) => (
            <tr>
              <td>{model.name}</td>
              <td>{model.provider}</td>
              <td class="num">{formatContext(model.contextWindow)}</td>
              <td class="num">{model.score}</td>
              <td class="wrap">{model.aliases.join(", ")}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function percent(rate: number | null): string {
  return rate === null ? "–" : `${Math.round(rate * 100)}%`;
}

function Caches({ caches }: { caches: CacheRow[] }) {
  return (
    <>
      <div class="scroll">
        <table id="caches">
          <thead>
            <tr>
              <th>cache</th>
              <th class="num">hit rate</th>
              <th class="num">memory hits</th>
              <th class="num">KV hits</th>
              <th class="num">misses</th>
              <th class="num">entries</th>
            </tr>
          </thead>
          <tbody>
            {caches.map((cache) => (
              <tr>
                <td>{cache.name}</td>
                <td class="num">{percent(cache.hitRate)}</td>
                <td class="num">{cache.memoryHits}</td>
                <td class="num">{cache.kvHits}</td>
                <td class="num">{cache.misses}</td>
                <td class="num">{cache.entries}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p class="muted">Counted by the isolate that served this page, since it started.</p>
    </>
  );
}

function Threads({ threads }: { threads: TeamStatus["threads"] }) {
  if (threads.length === 0) return <p class="muted">No threads yet. A model-calling tool starts one.</p>;
  return (
    <div class="scroll">
      <table id="threads">
        <thead>
          <tr>
            <th>title</th>
            <th>tool</th>
            <th class="num">turns</th>
            <th>updated</th>
            <th>expires</th>
          </tr>
        </thead>
        <tbody>
          {threads.map((thread) => (
            <tr>
              <td class="wrap">
                <a href={`/threads/${encodeURIComponent(thread.threadId)}`}>{thread.title || thread.threadId}</a>
              </td>
              <td>{thread.creatorTool}</td>
              <td class="num">{thread.turnCount}</td>
              <td>
                <Time ms={thread.updatedAt} />
              </td>
              <td>
                <Time ms={thread.expiresAt} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

interface ModelTotals {
  model: string;
  calls: number;
  inputTokens: number;
  outputTokens: number;
  cost: number | null;
}

function totalsByModel(report: UsageReport): ModelTotals[] {
  const byModel = new Map<string, ModelTotals>();
  for (const row of report.rows) {
    const model = `${row.provider}/${row.model}`;
    const totals = byModel.get(model) ?? { model, calls: 0, inputTokens: 0, outputTokens: 0, cost: 0 };
    totals.calls += row.calls;
    totals.inputTokens += row.inputTokens;
    totals.outputTokens += row.outputTokens;
    totals.cost = totals.cost === null || row.estimatedCostUsd === null ? null : totals.cost + row.estimatedCostUsd;
    byModel.set(model, totals);
  }
  return [...byModel.values()].sort((a, b) => b.inputTokens + b.outputTokens - (a.inputTokens + a.outputTokens) || a.model.localeCompare(b.model));
}

function usd(value: number): string {
  return `$${value < 0.01 && value > 0 ? value.toFixed(4) : value.toFixed(2)}`;
}

/** Spend against the deploy's budgets, at list prices. */
function Budget({ budget }: { budget: NonNullable<TeamStatus["budget"]> }) {
  const usd = (amount: number) => `$${amount.toFixed(2)}`;
  const parts = [
    ...(budget.usdPerDay !== null ? [`${usd(budget.spend.todayUsd)} of ${usd(budget.usdPerDay)} today (UTC)`] : []),
    ...(budget.usdPerMonth !== null ? [`${usd(budget.spend.monthUsd)} of ${usd(budget.usdPerMonth)} this month`] : []),
  ];
  return <p id="budget">Budget: {parts.join("; ")}, at list prices. Past a budget, no model is called until it resets.</p>;
}

function Usage({ report }: { report: UsageReport }) {
  if (report.rows.length === 0) return <p class="muted">No model calls from {report.from} to {report.to}.</p>;
  const layout = layoutUsageChart(report);
  const totals = totalsByModel(report);
  const count = (n: number) => n.toLocaleString("en-US");
  return (
    <>
      <p class="muted">
        Tokens (input and output) per UTC day, {report.from} to {report.to}.
      </p>
      <UsageChart layout={layout} />
      <ul class="legend">
        {layout.series.map((series) => (
          <li>
            <svg width="10" height="10" aria-hidden="true">
              <rect width="10" height="10" fill={series.color} />
            </svg>
            {series.name}
          </li>
        ))}
      </ul>
      <div class="scroll">
        <table id="usage-totals">
          <thead>
            <tr>
              <th>model</th>
              <th class="num">calls</th>
              <th class="num">input tokens</th>
              <th class="num">output tokens</th>
              <th class="num">est. cost</th>
            </tr>
          </thead>
          <tbody>
            {totals.map((row) => (
              <tr>
                <td>{row.model}</td>
                <td class="num">{count(row.calls)}</td>
                <td class="num">{count(row.inputTokens)}</td>
                <td class="num">{count(row.outputTokens)}</td>
                <td class="num">{row.cost === null ? "no price" : usd(row.cost)}</td>
              </tr>
            ))}
            <tr>
              <th>total</th>
              <th class="num">{count(report.totals.calls)}</th>
              <th class="num">{count(report.totals.inputTokens)}</th>
              <th class="num">{count(report.totals.outputTokens)}</th>
              <th class="num">{usd(report.totals.estimatedCostUsd)}</th>
            </tr>
          </tbody>
        </table>
      </div>
      <p class="muted">
        {formatTokens(report.totals.inputTokens + report.totals.outputTokens)} tokens in all. {report.note}
      </p>
    </>
  );
}

/** What a team sees: its providers' breakers, the models, the caches, its threads and its usage. */
export function TeamPage({ status, nonce, signedIn, now }: { status: TeamStatus; nonce: string | undefined; signedIn: boolean; now: number }) {
  return (
    <Layout title={`${SERVER_NAME} status: ${status.team}`} nonce={nonce}>
      <TeamHeader team={status.team} signedIn={signedIn} />
      <section>
        <HealthLine health={status.health} />
      </section>
      <section>
        <h2>Providers</h2>
        <Providers rows={status.breakers} withoutModels={status.providersWithoutModels} now={now} />
      </section>
      <section>
        <h2>Models</h2>
        <p id="model-catalog" class="muted">Model catalog: {status.catalog}</p>
        <Models models={status.models} />
      </section>
      <section>
        <h2>Caches</h2>
        <Caches caches={status.caches} />
      </section>
      <section>
        <h2>Recent threads</h2>
        <Threads threads={status.threads} />
      </section>
      <section>
        <h2>Usage</h2>
        {status.budget ? <Budget budget={status.budget} /> : null}
        <Usage report={status.usage} />
      </section>
    </Layout>
  );
}

/** Longer turns start collapsed, so a thread of long answers stays scannable. */
const COLLAPSE_CHARS = 1_200;
const COLLAPSE_LINES = 20;

function TurnContent({ content }: { content: string }) {
  if (content.length <= COLLAPSE_CHARS && content.split("\n").length <= COLLAPSE_LINES) return <pre>{content}</pre>;
  const firstLine = content.trimStart().split("\n")[0] ?? "";
  const preview = firstLine.length > 120 ? `${firstLine.slice(0, 120)}…` : firstLine;
  return (
    <details>
      <summary>
        {preview} <span class="muted">({content.length.toLocaleString("en-US")} characters)</span>
      </summary>
      <pre>{content}</pre>
    </details>
  );
}

function TurnView({ turn }: { turn: Turn }) {
  return (
    <article class={`turn ${turn.role}`}>
      <div class="muted">
        #{turn.index} · <strong>{turn.role}</strong> · {turn.tool}
        {turn.model ? ` · ${turn.provider ? `${turn.provider}/` : ""}${turn.model}` : ""} · <Time ms={turn.createdAt} />
      </div>
      <TurnContent content={turn.content} />
    </article>
  );
}

export function ThreadPage({ thread, nonce, signedIn }: { thread: Thread; nonce: string | undefined; signedIn: boolean }) {
  return (
    <Layout title={`${thread.title || thread.threadId}: ${SERVER_NAME}`} nonce={nonce}>
      <TeamHeader team={thread.team} signedIn={signedIn} />
      <p>
        <a href="/">← status</a>
      </p>
      <section>
        <h2>{thread.title || thread.threadId}</h2>
        <p class="muted">
          {thread.creatorTool} · {thread.turnCount} turns · started <Time ms={thread.createdAt} /> · updated <Time ms={thread.updatedAt} /> · expires{" "}
          <Time ms={thread.expiresAt} />
          <br />
          continuation_id <code>{thread.threadId}</code>
        </p>
      </section>
      <section id="turns">
        {thread.turns.map((turn) => (
          <TurnView turn={turn} />
        ))}
      </section>
    </Layout>
  );
}

/** A thread that cannot be shown: unknown, expired, or another team's (which look the same). */
export function MissingThreadPage({ team, nonce, signedIn }: { team: string; nonce: string | undefined; signedIn: boolean }) {
  return (
    <Layout title={`Thread not found: ${SERVER_NAME}`} nonce={nonce}>
      <TeamHeader team={team} signedIn={signedIn} />
      <section>
        <p class="error" role="alert">
          This thread was not found: it may have expired, or belong to another team.
        </p>
        <p>
          <a href="/">← status</a>
        </p>
      </section>
    </Layout>
  );
}
