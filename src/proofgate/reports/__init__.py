"""Reports: reproducible, signed records of single verdicts (`record`, `replay`, `signing`) and the
failure-mode report of a batch (`failures`, `plots`, `failure_page`; matplotlib, the `report`
extra)."""
