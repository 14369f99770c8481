"""The Python client of the HTTP API: `Client` (blocking) and `AsyncClient`, on httpx.

    with proofgate.Client("http://127.0.0.1:8000") as client:
        verdict = client.check(statement="theorem t : 1 + 1 = 2 := sorry", proof="by norm_num")
        print(verdict.status, verdict.reason)

Answers are the server's own models (`Verdict`, `CheckStepsResponse`, `EnvironmentInfo`,
`ReadinessReport`). 429 and 503 are retried with exponential backoff, honouring Retry-After, for a
bounded number of attempts with a capped sleep (except a 503 "not ready" that gives no estimate,
e.g. a missing toolchain, which waiting does not fix). What still fails becomes a typed error:
`SubmissionError` (422, names the field), `Busy`/`NotReady`/`LeanUnavailable`/`SandboxUnavailable`
(503), `ClientError` (other 4xx) and `ServerError` (5xx, timeouts, connection failures, unreadable
answers).
"""

from proofgate.client._base import DEFAULT_TIMEOUT, DEFAULT_URL, RetryPolicy
from proofgate.client._client import AsyncClient, Client

__all__ = ["DEFAULT_TIMEOUT", "DEFAULT_URL", "AsyncClient", "Client", "RetryPolicy"]
