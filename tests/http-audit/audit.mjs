// Runs the graphql-http audit suite (the GraphQL-over-HTTP specification's MUST, SHOULD
// and MAY rules, as the reference implementation checks them) against a running server.
//
//   PROFILEGRAPH_AUDIT_URL=http://127.0.0.1:8080/graphql \
//   PROFILEGRAPH_AUDIT_TOKEN=pgr_... node audit.mjs
//
// Every request the suite makes carries `Authorization: Bearer <token>`: without it the
// server answers 401 to everything, and the audit would measure only that.
//
// Prints one line per audit ("ok", "notice", "warn" or "error", its id and name, and for
// a failure the reason), then a totals line: `audit: N ok, N notice, N warn, N error`.
// Exits 1 when any audit warns or fails, 2 when the suite itself can't run.

import { auditServer } from 'graphql-http';

const url = process.env.PROFILEGRAPH_AUDIT_URL;
const token = process.env.PROFILEGRAPH_AUDIT_TOKEN;
if (!url || !token) {
  console.error('set PROFILEGRAPH_AUDIT_URL and PROFILEGRAPH_AUDIT_TOKEN');
  process.exit(2);
}

/** `fetch` with the token added to whatever headers the audit sends. */
function fetchWithToken(input, init = {}) {
  const headers = new Headers(init.headers ?? {});
  headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
}

let results;
try {
  results = await auditServer({ url, fetchFn: fetchWithToken });
} catch (err) {
  console.error(`the audit could not run: ${err?.stack ?? err}`);
  process.exit(2);
}

const totals = { ok: 0, notice: 0, warn: 0, error: 0 };
for (const result of results) {
  totals[result.status] = (totals[result.status] ?? 0) + 1;
  let line = `${result.status.padEnd(6)} ${result.id} ${result.name}`;
  if (result.status !== 'ok') {
    line += `: ${result.reason}`;
    if (result.response) {
      let body = '';
      try {
        body = await result.response.text();
      } catch {
        // The audit may have read the body already.
      }
      line += ` (status ${result.response.status}${body ? `, body ${body.slice(0, 300)}` : ''})`;
    }
  }
  console.log(line);
}
console.log(
  `audit: ${totals.ok} ok, ${totals.notice} notice, ${totals.warn} warn, ${totals.error} error`,
);
process.exit(totals.warn > 0 || totals.error > 0 ? 1 : 0);
