"""Reading results back from run logs."""
from .logparse import RunResult, parse_log, read_run

__all__ = ["RunResult", "parse_log", "read_run"]
