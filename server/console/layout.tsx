// Pages are rendered once on the server and never reconciled, so list items need no keys.
// deno-lint-ignore-file jsx-key
/**
 * The console's page frame (navigation, the CSRF token for the script, the signed-in operator),
 * the sign-in page, and small inline SVG charts. Server-rendered with Hono's JSX: no build step,
 * nothing fetched from elsewhere.
 *
 * @module
 */

import type { Child } from "hono/jsx";
import type { ConsoleSession } from "./console_sessions.ts";

/** What every page knows. */
export interface PageContext {
  session: ConsoleSession;
  /** The site public key (base64url), which a license.pvk must match before it signs. */
  siteKey: string;
  siteName: string;
}

const NAV: Array<[string, string, boolean]> = [
  ["/", "Overview", false],
  ["/computers", "Computers", false],
  ["/keys", "Keys", false],
  ["/site", "Relays, revocations, settings", false],
  ["/audit", "Audit log", true],
];

/** The frame of a signed-in page. */
export function Layout(
  props: { context: PageContext; title: string; current: string; children?: Child },
) {
  const { session, siteKey, siteName } = props.context;
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="csrf-token" content={session.csrfToken} />
        <title>{props.title} · {siteName} · MLE console</title>
        <link rel="stylesheet" href="/assets/console.css" />
      </head>
      <body data-site-key={siteKey}>
        <header>
          <strong>MLE console</strong>
          {NAV.filter(([, , adminOnly]) => !adminOnly || session.role === "admin").map((
            [href, label],
          ) => <a href={href} class={props.current === href ? "current" : ""}>{label}</a>)}
          <span class="who">
            <span>
              {session.operator} ({session.role})
            </span>
            <form method="post" action="/sign-out">
              <input type="hidden" name="csrf" value={session.csrfToken} />
              <button type="submit">Sign out</button>
            </form>
          </span>
        </header>
        <main>
          <h1>{props.title}</h1>
          {props.children}
        </main>
        <script src="/assets/console.js" defer></script>
      </body>
    </html>
  );
}

/** The sign-in page; `formToken` pairs the form with this browser (login CSRF). */
export function SignInPage(props: { formToken: string; error?: string; name?: string }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <title>Sign in · MLE console</title>
        <link rel="stylesheet" href="/assets/console.css" />
      </head>
      <body>
        <form class="sign-in" method="post" action="/sign-in">
          <h1>MLE console</h1>
          {props.error ? <p class="error" role="alert">{props.error}</p> : null}
          <input type="hidden" name="form" value={props.formToken} />
          <label>
            Name <input name="name" autocomplete="username" value={props.name ?? ""} required />
          </label>
          <label>
            Password{" "}
            <input name="password" type="password" autocomplete="current-password" required />
          </label>
          <button type="submit">Sign in</button>
        </form>
      </body>
    </html>
  );
}

/** Horizontal bars: one per label, with its count. */
export function BarList(props: { entries: Array<[string, number]>; width?: number }) {
  const width = props.width ?? 360;
  const max = Math.max(1, ...props.entries.map(([, n]) => n));
  const row = 22;
  return (
    <svg
      width="100%"
      viewBox={`0 0 ${width} ${Math.max(row, props.entries.length * row)}`}
      role="img"
      aria-label="bar chart"
    >
      {props.entries.map(([label, n], i) => (
        <g>
          <text x="0" y={i * row + 14}>{label.length > 14 ? `${label.slice(0, 12)}…` : label}</text>
          <rect
            x="100"
            y={i * row + 4}
            height="14"
            width={Math.max(1, (n / max) * (width - 150))}
            fill="#1f5fbf"
          />
          <text x={104 + (n / max) * (width - 150)} y={i * row + 15}>{String(n)}</text>
        </g>
      ))}
    </svg>
  );
}

/** Vertical bars over time: reports per hour for the last `hours` hours. */
export function HourChart(
  props: { perHour: Array<[number, number]>; now: number; hours: number },
) {
  const hourMs = 3_600_000;
  const end = Math.floor(props.now / hourMs) * hourMs;
  const counts = new Map(props.perHour);
  const series = Array.from({ length: props.hours }, (_, i) => {
    const hour = end - (props.hours - 1 - i) * hourMs;
    return counts.get(hour) ?? 0;
  });
  const max = Math.max(1, ...series);
  const barWidth = 14;
  const height = 90;
  return (
    <svg
      width="100%"
      viewBox={`0 0 ${series.length * barWidth + 40} ${height + 20}`}
      role="img"
      aria-label="reports per hour"
    >
      {series.map((n, i) => (
        <rect
          x={i * barWidth}
          y={height - (n / max) * height}
          width={barWidth - 2}
          height={Math.max(n > 0 ? 1 : 0, (n / max) * height)}
          fill="#1f5fbf"
        >
          <title>{`${n} reports`}</title>
        </rect>
      ))}
      <text x="0" y={height + 15}>{`${props.hours} h ago`}</text>
      <text x={series.length * barWidth - 30} y={height + 15}>now</text>
      <text x={series.length * barWidth + 2} y="10">{String(max)}</text>
    </svg>
  );
}

/** A time as ISO text without milliseconds, or "never". */
export function timeText(at: number | null): string {
  return at === null ? "never" : new Date(at).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** A command ready to copy, for decisions the console cannot sign itself. */
export function Command(props: { text: string }) {
  return <pre class="command">{props.text}</pre>;
}

/** The head row of a table, one `<th>` per column title (an empty title for a column of buttons). */
export function TableHead(props: { columns: string[] }) {
  return (
    <thead>
      <tr>
        {props.columns.map((title) => <th>{title}</th>)}
      </tr>
    </thead>
  );
}
