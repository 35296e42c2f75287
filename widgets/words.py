"""Widgets room: where the widgets find the people's words. They are defined once, in console/engine/words.py
(the CLI's text output uses them too, and the CLI does not import widgets); this module only names them."""

from console.engine.words import (CHECK_WORDS, OUTCOME_WORDS, RESULT_WORDS, STATE_WORDS, check_word, humane,
                                  outcome_word, result_word, state_word)

__all__ = ["CHECK_WORDS", "OUTCOME_WORDS", "RESULT_WORDS", "STATE_WORDS", "check_word", "humane", "outcome_word",
           "result_word", "state_word"]
