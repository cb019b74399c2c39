"""The command line's own contract: option choices agree with the library's."""

from __future__ import annotations

from typing import get_args

from kgforge import cli


def test_option_choices_match_the_library() -> None:
    from kgforge.corpus.reader import OnError
    from kgforge.embed.data import Split
    from kgforge.embed.evaluate import EvalProtocol
    from kgforge.graph.results import RESULT_FORMATS
    from kgforge.transfer.links import Direction
    from kgforge.transfer.retrieval import Mode

    assert get_args(cli.ResultFormat) == tuple(RESULT_FORMATS)
    assert set(get_args(cli.StatsFormat)) <= set(RESULT_FORMATS)
    for ours, theirs in [
        (cli.OnError, OnError),
        (cli.Split, Split),
        (cli.Protocol, EvalProtocol),
        (cli.Direction, Direction),
        (cli.SearchMode, Mode),
    ]:
        assert set(get_args(ours)) == set(get_args(theirs)), (ours, theirs)
