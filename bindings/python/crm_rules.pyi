"""crm-rules in-process: each organisation's CRM sales rules, run as a
WebAssembly component, answering as the `crm-rules` program does."""

import datetime
import os
from typing import Any, Dict, Iterable, List, Literal, Mapping, Optional, Union

__version__: str

Record = Union[Mapping[str, Any], str, bytes]
"""One record: a dict, or its JSON as str or bytes."""

Data = Union[bytes, bytearray, str, Mapping[str, Any], Iterable[Mapping[str, Any]]]
"""Records: bytes or text in any input the program reads (one JSON object, an
array, JSON lines, a Dataverse/Salesforce/HubSpot API response), one dict, or
an iterable of dicts (read as JSON lines)."""

Now = Union[str, datetime.datetime, None]
"""The decision time: RFC 3339 text or a timezone-aware datetime; None for the
current second."""

Emit = Literal["decision", "native", "both"]
Kind = Literal["qualify", "convert", "transition", "forecast"]
Format = Literal["canonical", "dataverse", "salesforce", "hubspot"]
Line = Dict[str, Any]
"""One line the program writes: {"position", "id", "decision"/"actions"} or
{"position", "error"} for a record that failed."""

class LoadError(Exception):
    """An org folder cannot be read, or its module cannot be loaded."""

class Host:
    """One engine shared by many orgs: each module is compiled once."""

    def __init__(
        self,
        *,
        cache: bool = True,
        cache_dir: Union[str, os.PathLike, None] = None,
        cache_key: Union[str, os.PathLike, None] = None,
    ) -> None: ...
    def org(self, dir: Union[str, os.PathLike]) -> "Org":
        """Loads an org folder into this host (raises LoadError)."""
    def orgs(self) -> List[str]:
        """The ids of the orgs loaded into this host."""

class Org:
    """An org folder loaded as the program's --org-dir loads it."""

    def __init__(self, dir: Union[str, os.PathLike], *, host: Optional[Host] = None) -> None: ...
    @property
    def id(self) -> str: ...
    @property
    def dir(self) -> os.PathLike: ...
    def info(self) -> Dict[str, Any]:
        """What `crm-rules info` prints."""
    def stages(self) -> List[Dict[str, Any]]:
        """What `crm-rules stages` prints."""
    def decide(
        self,
        kind: Kind,
        data: Data,
        *,
        now: Now = None,
        emit: Emit = "decision",
        jobs: Optional[int] = None,
        user: Optional[str] = None,
        team: Optional[str] = None,
        format: Optional[Format] = None,
        to: Optional[str] = None,
        provenance: bool = False,
        bundle: bool = False,
    ) -> List[Line]:
        """The lines the program writes for the same input, in input order; the
        GIL is released while the records are decided."""
    def qualify(
        self,
        record: Record,
        *,
        now: Now = None,
        emit: Emit = "decision",
        user: Optional[str] = None,
        team: Optional[str] = None,
        format: Optional[Format] = None,
        provenance: bool = False,
        bundle: bool = False,
    ) -> Line: ...
    def convert(
        self,
        record: Record,
        *,
        now: Now = None,
        emit: Emit = "decision",
        user: Optional[str] = None,
        team: Optional[str] = None,
        format: Optional[Format] = None,
        provenance: bool = False,
        bundle: bool = False,
    ) -> Line: ...
    def transition(
        self,
        record: Record,
        *,
        to: Optional[str] = None,
        now: Now = None,
        emit: Emit = "decision",
        user: Optional[str] = None,
        team: Optional[str] = None,
        format: Optional[Format] = None,
        provenance: bool = False,
        bundle: bool = False,
    ) -> Line: ...
    def forecast(
        self,
        record: Record,
        *,
        now: Now = None,
        emit: Emit = "decision",
        user: Optional[str] = None,
        team: Optional[str] = None,
        format: Optional[Format] = None,
        provenance: bool = False,
        bundle: bool = False,
    ) -> Line: ...
