/**
 * The dashboard's only style sheet and script, served from `/ui/assets/` (no CDN: the dashboard
 * works offline). Kept as strings so that the bundled app carries them.
 */
export const CSS = `
:root { --fg: #1d2430; --muted: #5b6575; --line: #dde2ea; --bg: #f6f8fb; --card: #fff; --accent: #2457c5;
  --ok: #18794e; --bad: #c0362c; --warn: #a35c00; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: var(--bg); font-size: 14px; line-height: 1.4; }
header { display: flex; align-items: center; gap: 1.5rem; padding: .6rem 1.2rem; background: #1d2430; color: #fff; }
header h1 { font-size: 1rem; margin: 0; font-weight: 600; }
header nav { display: flex; gap: .2rem; flex: 1; flex-wrap: wrap; }
header nav a { color: #c9d3e3; text-decoration: none; padding: .3rem .6rem; border-radius: 4px; }
header nav a.current, header nav a:hover { background: #34405a; color: #fff; }
header .who { color: #c9d3e3; font-size: .85rem; display: flex; gap: .6rem; align-items: center; }
main { padding: 1rem 1.2rem 2rem; max-width: 1400px; }
h2 { font-size: 1.1rem; margin: 1.2rem 0 .6rem; }
h2:first-child { margin-top: 0; }
section.card { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: .8rem 1rem;
  margin-bottom: 1rem; overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: .8rem; text-transform: uppercase; letter-spacing: .03em; }
tr:last-child td { border-bottom: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.muted { color: var(--muted); font-size: .85rem; }
.badge { display: inline-block; padding: 0 .45rem; border-radius: 10px; font-size: .78rem; font-weight: 600;
  background: #e8ecf3; color: var(--fg); white-space: nowrap; }
.badge.succeeded, .badge.done, .badge.alive { background: #dcf3e6; color: var(--ok); }
.badge.failed, .badge.dead, .badge.interrupted, .badge.gone { background: #fbe2df; color: var(--bad); }
.badge.running, .badge.pending { background: #e1eafc; color: var(--accent); }
.badge.paused, .badge.skipped { background: #fcefd9; color: var(--warn); }
form.inline { display: inline-flex; gap: .3rem; align-items: center; margin: 0 .3rem .2rem 0; }
button { font: inherit; padding: .2rem .65rem; border-radius: 4px; border: 1px solid #b8c2d3; background: #fff;
  cursor: pointer; }
button:hover { border-color: var(--accent); color: var(--accent); }
button.danger:hover { border-color: var(--bad); color: var(--bad); }
input, select { font: inherit; padding: .2rem .4rem; border: 1px solid #b8c2d3; border-radius: 4px; }
input.reason { width: 11rem; }
pre { margin: 0; white-space: pre-wrap; word-break: break-word; font-size: .8rem; max-height: 12rem; overflow: auto;
  background: #f3f5f9; padding: .3rem .5rem; border-radius: 4px; }
.error { color: var(--bad); }
.flash { padding: .5rem .8rem; border-radius: 4px; background: #e1eafc; margin-bottom: 1rem; }
.flash.bad { background: #fbe2df; color: var(--bad); }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 1rem; }
.filters { display: flex; gap: .6rem; flex-wrap: wrap; align-items: end; margin-bottom: .6rem; }
.filters label { display: flex; flex-direction: column; font-size: .8rem; color: var(--muted); gap: .15rem; }
.chart text { font-size: 10px; fill: var(--muted); }
.legend { display: flex; gap: 1rem; font-size: .8rem; color: var(--muted); }
.swatch { display: inline-block; width: .7rem; height: .7rem; border-radius: 2px; margin-right: .3rem; vertical-align: -1px; }
.swatch.ok { background: #3aa76d; } .swatch.bad { background: #d9534f; }
.signin { max-width: 380px; margin: 10vh auto; background: var(--card); border: 1px solid var(--line);
  border-radius: 8px; padding: 1.5rem; }
.signin label { display: flex; flex-direction: column; gap: .25rem; margin-bottom: .8rem; color: var(--muted); }
.signin input { padding: .45rem .6rem; }
.signin button { width: 100%; padding: .5rem; background: var(--accent); color: #fff; border: 0; }
`

/**
 * Refreshes the page's `main` every few seconds from the same URL (the server answers only the
 * `main` part when asked with `X-Dashboard-Fragment`), unless the operator is typing in it.
 * Forms with `data-confirm` ask first.
 */
export const JS = `
(function () {
  var main = document.getElementById("live");
  if (!main) return;
  var every = Number(main.getAttribute("data-refresh") || "5000");
  function busy() {
    var active = document.activeElement;
    return active && main.contains(active) && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName);
  }
  function refresh() {
    if (busy() || document.hidden) return;
    fetch(location.href, { headers: { "X-Dashboard-Fragment": "1" }, credentials: "same-origin" })
      .then(function (response) {
        if (response.status === 401) { location.reload(); return null; }
        return response.ok ? response.text() : null;
      })
      .then(function (text) {
        if (text !== null && !busy()) {
          main.innerHTML = text;
          main.setAttribute("data-refreshed", String(Date.now()));
        }
      })
      .catch(function () {});
  }
  setInterval(refresh, every);
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });
})();
`
