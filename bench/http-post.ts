/**
 * One POST over a keep-alive agent, as the baselines send them. A keep-alive socket the server
 * closed while it sat idle fails the next request on it with a reset; such a request was never
 * read, so it is sent once more on a fresh socket (the retry Node's documentation recommends).
 */
import http from 'node:http';
import https from 'node:https';

/**
 * POSTs `body` to `url` through `agent`.
 * @returns the status, or 0 when the request failed
 */
export function post(
  url: string | URL,
  headers: http.OutgoingHttpHeaders,
  body: Buffer,
  agent: http.Agent,
  retried = false,
): Promise<number> {
  const transport = String(url).startsWith('https:') ? https : http;
  return new Promise((resolve) => {
    const req = transport.request(url, { method: 'POST', headers, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(0));
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (!retried && req.reusedSocket && error.code === 'ECONNRESET') {
        resolve(post(url, headers, body, agent, true));
      } else resolve(0);
    });
    req.end(body);
  });
}
