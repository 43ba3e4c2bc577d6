"""The `cluster` key of the monitor and model groups: which dask.distributed cluster to run on.

One spec for both places that can scale out (drift statistics over partitioned data, and LightGBM
training with `model.engine: dask`), so an address is written and checked the same way in each.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

# A Dask scheduler address: tcp://host:port, tls://host:port, or host:port.
_ADDRESS = re.compile(r"^(?:(?:tcp|tls|inproc|ucx)://)?[\w.\-\[\]:]+:\d{1,5}$")


class ClusterSpec(BaseModel):
    """`address`: a running scheduler (`tcp://10.0.0.5:8786`); null starts a local cluster on
    127.0.0.1 for the run and stops it after. `workers`: the local cluster's worker processes
    (null: one per usable CPU); ignored with an address."""

    model_config = ConfigDict(extra="forbid")

    address: str | None = None
    workers: int | None = Field(None, ge=1, le=1024)

    @field_validator("address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not _ADDRESS.match(value.strip()):
            raise ValueError(f"'{value}' is not a Dask scheduler address such as tcp://127.0.0.1:8786")
        return value.strip()
