"""Options that several `corridor` commands share, declared once."""

from __future__ import annotations

from typing import Annotated

import typer

BrokerOpt = Annotated[
    str | None,
    typer.Option("--broker", envvar="CORRIDOR_BROKER",
                 help="Kafka bootstrap servers; default: a running `corridor broker`, else an embedded one"),
]
