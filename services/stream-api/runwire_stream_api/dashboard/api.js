/** Authenticated JSON reads from the stream API that serves this page. */

/** An HTTP error answered by the API, with the problem+json `detail` when there is one. */
export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.name = "ApiError";
    this.status = status;
  }
}

/** GET `path` with the bearer token; the parsed JSON, or ApiError / a network TypeError. */
export async function getJson(path, token, { signal } = {}) {
  const response = await fetch(path, {
    headers: { Authorization: `Bearer ${token}`, Accept: "application/json" },
    cache: "no-store",
    signal,
  });
  if (!response.ok) {
    let detail = response.statusText;
    try {
      detail = (await response.json()).detail ?? detail;
    } catch {
      // not problem+json (a proxy's page): the status text says enough
    }
    throw new ApiError(response.status, `HTTP ${response.status}: ${detail}`);
  }
  return response.json();
}
