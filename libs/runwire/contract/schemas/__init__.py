"""Published schemas: the CloudEvent JSON Schema for producers in other languages."""

from pathlib import Path

SCHEMA_DIR = Path(__file__).parent
CLOUDEVENT_SCHEMA = SCHEMA_DIR / "cloudevent.json"
