/** The dashboard's view of the northbound API: every call carries the operator token. */
export const API = '/api/v1';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export async function call<T>(token: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${API}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  if (!res.ok) {
    let code = `HTTP_${res.status}`;
    let message = text.slice(0, 200);
    try {
      const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
      code = parsed.error?.code ?? code;
      message = parsed.error?.message ?? message;
    } catch {
      // not our error body (a proxy, say): keep the raw text
    }
    throw new ApiError(res.status, code, message);
  }
  return JSON.parse(text) as T;
}

/**
 * The event stream; EventSource cannot send headers, hence the query token. In cluster mode it is
 * the leader's stream through etcd (`/cluster/events`, served by every member), so the dashboard
 * keeps seeing migrations and costs across a failover; on a reconnect EventSource sends
 * Last-Event-ID itself and the member replays what was missed.
 */
export function eventSource(token: string, cluster: boolean): EventSource {
  return new EventSource(`${API}${cluster ? '/cluster/events' : '/events'}?token=${encodeURIComponent(token)}`);
}
