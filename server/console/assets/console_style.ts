/**
 * The console's style sheet, served as `/assets/console.css` (a string module, embedded by
 * `deno compile`; nothing comes from the internet).
 *
 * @module
 */

/** The style sheet's text. */
export const CONSOLE_STYLE = `
:root { --fg: #1d2330; --muted: #5b6475; --line: #d9dde5; --bg: #f5f6f8; --accent: #1f5fbf;
  --bad: #b3261e; --good: #1e7a3c; --warn: #9a6700; font-family: system-ui, sans-serif; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: var(--bg); font-size: 14px; }
header { display: flex; align-items: center; gap: 1.5rem; padding: .6rem 1.2rem;
  background: #1d2330; color: #fff; }
header a { color: #dfe6f3; text-decoration: none; }
header a.current { color: #fff; font-weight: 600; border-bottom: 2px solid #7fb0ff; }
header .who { margin-left: auto; display: flex; gap: .8rem; align-items: center; }
header form { margin: 0; }
main { padding: 1.2rem; max-width: 1200px; margin: 0 auto; }
h1 { font-size: 1.4rem; margin: .2rem 0 1rem; }
h2 { font-size: 1.1rem; margin: 1.4rem 0 .6rem; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); gap: 1rem; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .8rem 1rem; }
.card h2 { margin-top: 0; }
.figure { font-size: 1.8rem; font-weight: 600; }
.muted { color: var(--muted); }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid var(--line); }
th { background: #eef0f4; font-weight: 600; }
td.mono, .mono { font-family: ui-monospace, monospace; font-size: 12px; }
.badge { display: inline-block; padding: 0 .4rem; border-radius: 3px; font-size: 12px;
  background: #e6e9ef; }
.badge.bad { background: #fbe3e1; color: var(--bad); }
.badge.good { background: #e1f3e6; color: var(--good); }
.badge.warn { background: #fff1cc; color: var(--warn); }
form.filters { display: flex; flex-wrap: wrap; gap: .5rem; align-items: end; margin-bottom: .8rem; }
form.filters label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); }
input, select, button { font: inherit; padding: .3rem .5rem; }
button { background: var(--accent); color: #fff; border: 0; border-radius: 4px; cursor: pointer; }
button.danger { background: var(--bad); }
.pager { display: flex; gap: 1rem; margin: .6rem 0; align-items: center; }
.sign-in { max-width: 360px; margin: 10vh auto; background: #fff; padding: 1.5rem;
  border: 1px solid var(--line); border-radius: 6px; }
.sign-in label { display: block; margin: .6rem 0; }
.sign-in input { width: 100%; }
.error { color: var(--bad); }
form.sign-decision { display: grid; gap: .5rem; max-width: 520px; }
.decision-result.ok { color: var(--good); }
.decision-result.failed { color: var(--bad); }
pre.command { background: #1d2330; color: #e8edf7; padding: .6rem; border-radius: 4px;
  white-space: pre-wrap; word-break: break-all; user-select: all; }
svg text { font-size: 11px; fill: var(--muted); }
`;
