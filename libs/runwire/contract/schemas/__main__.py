"""`python -m runwire.contract.schemas`: regenerate cloudevent.json from the envelope's msgspec Structs."""

import json

from runwire.contract.envelope import json_schema
from runwire.contract.schemas import CLOUDEVENT_SCHEMA

CLOUDEVENT_SCHEMA.write_text(json.dumps(json_schema(), indent=2) + "\n")
print(f"wrote {CLOUDEVENT_SCHEMA}")
