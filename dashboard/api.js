// The node's HTTP API (served by domiand itself, same origin): the same
// JSON documents as `domianctl --json` (docs/domianctl.md). Every failure
// becomes an ApiError whose message can be shown as it is; a missing or
// expired session is NeedsLogin, so the app can say how to get one.

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

export class NeedsLogin extends Error {
  constructor() {
    super('no dashboard session: open the link from `domianctl dashboard`');
  }
}

async function request(path, init = {}) {
  let response;
  try {
    response = await fetch(path, {
      credentials: 'same-origin',
      cache: 'no-store',
      ...init,
      headers: { Accept: 'application/json', ...(init.headers || {}) },
    });
  } catch (error) {
    throw new ApiError(`the node did not answer (${error.message})`, 0);
  }
  if (response.status === 401) throw new NeedsLogin();
  const text = await response.text();
  let body;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = undefined;
  }
  if (!response.ok) {
    const why = body && typeof body.error === 'string' ? body.error : text.trim() || response.statusText;
    throw new ApiError(`${why} (HTTP ${response.status})`, response.status);
  }
  if (body === undefined || body === null) {
    throw new ApiError(`the node's answer to ${path} is not JSON`, response.status);
  }
  return body;
}

export const api = {
  status: () => request('/api/status'),
  peers: () => request('/api/peers'),
  services: () => request('/api/services'),
  plugins: () => request('/api/plugins'),
  explain: (service) => request(`/api/explain?service=${encodeURIComponent(service)}`),
  // The service's reply to `command`, wherever it runs. The browser sends
  // Origin with a POST from fetch, which the node checks (CSRF).
  call: async (service, command, args = {}) => {
    try {
      return await request('/api/call', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ service, command, args }),
      });
    } catch (error) {
      if (error instanceof ApiError) error.message = `${service} ${command}: ${error.message}`;
      throw error;
    }
  },
};
