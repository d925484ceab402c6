"""Plain data shared by every layer (leaf layer: imports only the standard library and itself).

``catalog`` holds MVSEP's algorithm catalog, ``separation`` job status and result files,
``account`` user/history/site data, ``formats`` output formats, ``jobs`` the daemon's job states,
``secret`` the redacting credential holder.
"""

from mvsepd.models.account import (
    ActionResult,
    DemoEntry,
    HistoryEntry,
    Leaderboard,
    NewsItem,
    QualityEntry,
    QualityEntryCreated,
    QueueInfo,
    UserInfo,
)
from mvsepd.models.catalog import (
    Algorithm,
    AlgorithmField,
    AlgorithmScope,
    FieldCondition,
    InputType,
    OutputOverride,
    OutputVariant,
    PriceRule,
)
from mvsepd.models.formats import AUDIO_EXTENSIONS, OTHER_RESULT_EXTENSIONS, OutputFormat
from mvsepd.models.jobs import (
    DeliveryRecord,
    DeliveryState,
    FailureKind,
    HoldKind,
    JobRecord,
    JobState,
)
from mvsepd.models.secret import Secret
from mvsepd.models.separation import (
    RemoteCreated,
    RemoteJobStatus,
    RemoteStatus,
    ResultFile,
    SeparationCreated,
    SeparationStatus,
    parse_human_size,
)

__all__ = [
    "AUDIO_EXTENSIONS",
    "OTHER_RESULT_EXTENSIONS",
    "ActionResult",
    "Algorithm",
    "AlgorithmField",
    "AlgorithmScope",
    "DeliveryRecord",
    "DeliveryState",
    "DemoEntry",
    "FailureKind",
    "FieldCondition",
    "HistoryEntry",
    "HoldKind",
    "InputType",
    "JobRecord",
    "JobState",
    "Leaderboard",
    "NewsItem",
    "OutputFormat",
    "OutputOverride",
    "OutputVariant",
    "PriceRule",
    "QualityEntry",
    "QualityEntryCreated",
    "QueueInfo",
    "RemoteCreated",
    "RemoteJobStatus",
    "RemoteStatus",
    "ResultFile",
    "Secret",
    "SeparationCreated",
    "SeparationStatus",
    "UserInfo",
    "parse_human_size",
]
