/**
 * What the dashboard remembers for this browser tab: the token and the filters.
 *
 * `make run` prints the dashboard URL with `?access_token=`; the token is moved from the URL into
 * sessionStorage at once and the URL rewritten without it, so it does not stay in the history,
 * bookmarks or a shared screenshot. The filters stay in the URL, so a view can be shared.
 */

const TOKEN_KEY = "runwire.token";
const FILTERS_KEY = "runwire.filters";
const FILTER_NAMES = ["project", "types", "aggregates", "from"];

/** The token of this tab: taken from `?access_token=` if present, else the one kept before. */
export function takeToken() {
  const url = new URL(window.location.href);
  const fromUrl = url.searchParams.get("access_token");
  if (fromUrl) {
    saveToken(fromUrl);
    url.searchParams.delete("access_token");
    window.history.replaceState(null, "", url);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

export function saveToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

/** The token's claims, read without verifying it (the server does that): for display and for the
 * default project. Null if it is not a readable JWT. */
export function tokenClaims(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const padded = payload.padEnd(Math.ceil(payload.length / 4) * 4, "=");
    return JSON.parse(atob(padded));
  } catch {
    return null;
  }
}

/** The filters: from the URL, else those kept in this tab, else the token's first project. */
export function loadFilters(claims) {
  const url = new URL(window.location.href);
  const kept = JSON.parse(sessionStorage.getItem(FILTERS_KEY) ?? "{}");
  const filters = { project: "", types: "", aggregates: "", from: "latest" };
  const inUrl = FILTER_NAMES.some((name) => url.searchParams.has(name));
  for (const name of FILTER_NAMES) {
    const value = inUrl ? url.searchParams.get(name) : kept[name];
    if (value) filters[name] = value;
  }
  if (!filters.project && Array.isArray(claims?.projects) && claims.projects.length > 0) {
    filters.project = claims.projects[0];
  }
  return filters;
}

/** Keep the filters for this tab and show them in the URL. */
export function saveFilters(filters) {
  sessionStorage.setItem(FILTERS_KEY, JSON.stringify(filters));
  const url = new URL(window.location.href);
  for (const name of FILTER_NAMES) {
    if (filters[name] && !(name === "from" && filters[name] === "latest")) {
      url.searchParams.set(name, filters[name]);
    } else {
      url.searchParams.delete(name);
    }
  }
  window.history.replaceState(null, "", url);
}
