from flask import Flask, jsonify
from werkzeug.exceptions import NotFound

from app.settings import load_settings

settings = load_settings()
app = Flask(settings["name"])


@app.get("/items/<int:item_id>")
def get_item(item_id: int):
    if item_id < 0:
        raise NotFound()
    return jsonify({"id": item_id})


def main() -> None:
    app.run(host="0.0.0.0", port=settings["port"])
