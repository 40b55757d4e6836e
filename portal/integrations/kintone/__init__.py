"""kintone REST API client: records (cursor + `$id` seek), bulk writes, form settings, errors.

The public names are re-exported here, so `from portal.integrations.kintone import KintoneClient`
keeps working; the modules are `errors`, `query`, `transport`, `records`, `writes`, `apps` and
`client`. The client carries no user-facing wording: `portal.messages.kintone` words its errors.
"""

from portal.integrations.kintone.client import KintoneClient
from portal.integrations.kintone.errors import (
    FieldError,
    KintoneAppAccessError,
    KintoneAuthError,
    KintoneConflictError,
    KintoneConnectionLostError,
    KintoneCursorLimitError,
    KintoneDeployError,
    KintoneError,
    KintoneFilterAbortedError,
    KintoneNetworkError,
    KintoneNotFoundError,
    KintonePermissionError,
    KintoneServerError,
    KintoneThrottledError,
    KintoneTimeoutError,
    KintoneValidationError,
    WriteReport,
    error_class_for,
    parse_field_errors,
)
from portal.integrations.kintone.query import (
    MAX_PAGE_SIZE,
    RECORDS_PER_BULK,
    RECORDS_PER_REQUEST,
    SplitQuery,
    encode_query_params,
    kintone_base_url,
    seek_query,
    split_query,
)
from portal.integrations.kintone.records import RecordIterator
from portal.integrations.kintone.transport import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_RETRY,
    DEFAULT_TIMEOUT,
)
from portal.integrations.kintone.writes import WriteResult

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_RETRY",
    "DEFAULT_TIMEOUT",
    "MAX_PAGE_SIZE",
    "RECORDS_PER_BULK",
    "RECORDS_PER_REQUEST",
    "FieldError",
    "KintoneAuthError",
    "KintoneClient",
    "KintoneConflictError",
    "KintoneConnectionLostError",
    "KintoneCursorLimitError",
    "KintoneDeployError",
    "KintoneError",
    "KintoneFilterAbortedError",
    "KintoneNetworkError",
    "KintoneNotFoundError",
    "KintonePermissionError",
    "KintoneAppAccessError",
    "KintoneServerError",
    "KintoneThrottledError",
    "KintoneTimeoutError",
    "KintoneValidationError",
    "RecordIterator",
    "SplitQuery",
    "WriteReport",
    "WriteResult",
    "encode_query_params",
    "error_class_for",
    "kintone_base_url",
    "parse_field_errors",
    "seek_query",
    "split_query",
]
