"""The live dashboard: its page at `/` and its files (ES modules, CSS) under `/static/`.

Served without auth: the page holds no data. It takes the user's token (from `?access_token=`, or
pasted) and presents it to the authenticated endpoints like any other client. No build step: the
files in `dashboard/` are served as they are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from litestar import MediaType, Router, get
from litestar.datastructures import CacheControlHeader, ResponseHeader
from litestar.response import File
from litestar.static_files import create_static_files_router

DASHBOARD_DIR: Final = Path(__file__).parent / "dashboard"

# The page loads code only from this server and talks only to it, so even a script smuggled in
# through an event's content could not send the user's token elsewhere.
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

# Revalidate on every load (the ETag makes that cheap) so that an upgraded server's files are
# never mixed with a browser's cached older modules.
REVALIDATE: Final = CacheControlHeader(no_cache=True)


@get("/", include_in_schema=False, cache_control=REVALIDATE, sync_to_thread=False)
def dashboard_page() -> File:
    """The dashboard page."""
    return File(DASHBOARD_DIR / "index.html", content_disposition_type="inline", media_type=MediaType.HTML)


dashboard_router: Final = Router(
    path="/",
    route_handlers=[
        dashboard_page,
        create_static_files_router("/static", [DASHBOARD_DIR], cache_control=REVALIDATE, name="dashboard"),
    ],
    response_headers=[
        ResponseHeader(name="Content-Security-Policy", value=CONTENT_SECURITY_POLICY),
        # The page URL may carry `?access_token=` until the page moves it to sessionStorage.
        ResponseHeader(name="Referrer-Policy", value="no-referrer"),
        ResponseHeader(name="X-Content-Type-Options", value="nosniff"),
    ],
)
