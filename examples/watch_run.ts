// Follow a run live from a front end, with the `graphql-ws` client (graphql-transport-ws).
//
//   npm install graphql-ws
//
// The token travels in `connection_init`, never in the URL; `since: "0"` replays the lines
// logged before the subscription started, so a late listener misses nothing.
import { createClient } from "graphql-ws";

const client = createClient({
  url: "ws://127.0.0.1:8000/graphql",
  connectionParams: { authorization: `Bearer ${process.env.PRICING_TOKEN}` },
});

export function followRun(runId: string, onLine: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    client.subscribe<{ runLog: { level: string; message: string; cursor: string } }>(
      {
        query: `subscription($id: ID!) {
          runLog(runId: $id, since: "0") { level message cursor }
        }`,
        variables: { id: runId },
      },
      {
        next: ({ data, errors }) => {
          if (errors) reject(new Error(errors.map((e) => e.message).join("; ")));
          else if (data) onLine(`[${data.runLog.level}] ${data.runLog.message}`);
        },
        error: reject,
        complete: resolve, // a finished run's stream ends after its last line
      },
    );
  });
}
