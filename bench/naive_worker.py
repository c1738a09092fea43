"""The naive baseline: a Faust agent that passes records through, awaiting each send (Faust's defaults).

    python -m bench.naive_worker BOOTSTRAP SOURCE_TOPIC DEST_TOPIC APP_ID DATA_DIR
"""

from __future__ import annotations

import sys

import faust


def main() -> None:
    bootstrap, source, dest, app_id, data_dir = sys.argv[1:6]
    app = faust.App(app_id, broker=f"kafka://{bootstrap}", datadir=data_dir, web_enabled=False,
                    broker_rebalance_timeout=2.0, broker_session_timeout=6.0, broker_heartbeat_interval=1.0,
                    broker_commit_interval=0.5, consumer_auto_offset_reset="earliest")
    schema = faust.Schema(key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    src = app.topic(source, schema=schema)
    dst = app.topic(dest, schema=faust.Schema(key_type=bytes, value_type=bytes, key_serializer="raw",
                                              value_serializer="raw"))

    @app.agent(src)
    async def passthrough(stream: faust.StreamT) -> None:
        async for event in stream.events():
            await dst.send(key=event.key, value=event.value)

    faust.Worker(app, loglevel="warning").execute_from_commandline()


if __name__ == "__main__":
    main()
