"""The one contract shared by the server, the CLI, CI mode and the client: plain pydantic models.

- `proofgate.models.check`: `Submission` in, `Verdict` out, and triage's request and result;
- `proofgate.models.http`: environments, readiness and error bodies of the HTTP API;
- `proofgate.models.jobs`: batch jobs (request, result lines, report);
- `proofgate.models.sessions`: interactive proof sessions.

The check models are importable from here too (`proofgate.models.Verdict`).
"""

from proofgate.models import check
from proofgate.models.check import *  # noqa: F403  (the names in check.__all__)

__all__ = list(check.__all__)
