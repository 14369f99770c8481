"""Reports: reproducible, signed records of single verdicts (`record`, `replay`, `signing`), the
failure-mode report of a batch (`failures`, `plots`, `failure_page`; matplotlib, the `report`
extra) and the report of a trainer's reward log, the cheat rate per step (`reward_log`)."""
