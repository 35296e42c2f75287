"""The exits room: every exit code the command line returns and every outcome a rollout ends with, each
defined once, and the mapping between them (docs/contracts.md, "Exit codes").

The engine needs them too (a replay says its exit code), so they live here, beside the model, and carry
no I/O. The command line's output helpers are in console/output.py.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum

from console.engine.model import Outcome, State


class Exit(IntEnum):
    """What a command's exit status means, everywhere."""

    OK = 0  # promoted (or already stable), check passed, action done
    FAILED = 1  # rolled back, or the check failed
    USAGE = 2  # usage or configuration error, or an action refused (the message says why)
    WAITING = 3  # inconclusive, awaiting approval, paused or stopped; a confirmation answered "n"
    UNREACHABLE = 4  # the cluster or Prometheus could not be asked
    INTERNAL = 70  # a bug in the console (EX_SOFTWARE): one line, the traceback only with --debug


EXIT_OK, EXIT_FAILED, EXIT_USAGE = Exit.OK, Exit.FAILED, Exit.USAGE
EXIT_WAITING, EXIT_UNREACHABLE, EXIT_INTERNAL = Exit.WAITING, Exit.UNREACHABLE, Exit.INTERNAL


class RolloutOutcome(StrEnum):
    """How a rollout (a headless run, a replay) ended, as `run --json` and `replay --json` say it."""

    PROMOTED = "promoted"
    ROLLED_BACK = "rolled_back"
    FAILED = "failed"
    AWAITING_APPROVAL = "awaiting_approval"
    PAUSED = "paused"
    INCOMPLETE = "incomplete"  # the timeline (or the run) ended before anything above
    STOPPED = "stopped"  # a signal stopped the run; the record is saved and a later run resumes it
    ALREADY_STABLE = "already_stable"  # `run` of the version that is stable already: nothing rolled out


OUTCOME_EXIT: dict[RolloutOutcome, Exit] = {
    RolloutOutcome.PROMOTED: Exit.OK, RolloutOutcome.ROLLED_BACK: Exit.FAILED, RolloutOutcome.FAILED: Exit.FAILED,
    RolloutOutcome.AWAITING_APPROVAL: Exit.WAITING, RolloutOutcome.PAUSED: Exit.WAITING,
    RolloutOutcome.INCOMPLETE: Exit.WAITING, RolloutOutcome.STOPPED: Exit.WAITING,
    RolloutOutcome.ALREADY_STABLE: Exit.OK}

VERDICT_EXIT: dict[Outcome, Exit] = {Outcome.PASS: Exit.OK, Outcome.FAIL: Exit.FAILED,
                                     Outcome.MANUAL_REVIEW: Exit.WAITING, Outcome.INCONCLUSIVE: Exit.WAITING}

#: the outcome a rollout has when its state is this one (the states a headless run stops at)
STATE_OUTCOME: dict[State, RolloutOutcome] = {
    State.PROMOTED: RolloutOutcome.PROMOTED, State.ROLLED_BACK: RolloutOutcome.ROLLED_BACK,
    State.FAILED: RolloutOutcome.FAILED, State.AWAITING_APPROVAL: RolloutOutcome.AWAITING_APPROVAL,
    State.PAUSED: RolloutOutcome.PAUSED}


def outcome_exit(outcome: str) -> Exit:
    """The exit code of an outcome; one this console does not know is waiting (3), never success."""
    try:
        return OUTCOME_EXIT[RolloutOutcome(outcome)]
    except ValueError:
        return Exit.WAITING
