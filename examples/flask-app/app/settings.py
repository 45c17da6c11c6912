import os

import yaml

DEFAULTS = "name: items\nport: 8000\n"


def load_settings() -> dict:
    path = os.environ.get("ITEMS_SETTINGS")
    text = open(path).read() if path else DEFAULTS
    return yaml.safe_load(text)
