"""Crash tests' tools, shared by the eval and InT resume tests: a backend that dies like a killed
process, and the torn last line such a kill leaves in a record log."""

from pathlib import Path

from harness.backends import Backend


class KillAfter(Backend):
    """Delegates to a real backend, then dies on the n-th generate call, like a killed process."""

    name = "kill-after"

    def __init__(self, inner: Backend, calls: int):
        super().__init__(inner.model)
        self.inner, self.calls = inner, calls

    def generate(self, requests, params):
        if self.calls == 0:
            raise KeyboardInterrupt("simulated kill")
        self.calls -= 1
        return self.inner.generate(requests, params)


class AlwaysCorrectJudge(Backend):
    """A judge model that says every answer is correct (and counts what it was asked)."""

    name = "always-correct-judge"
    loads_weights = False
    asked = 0

    def generate(self, requests, params):
        from harness.backends import Sample

        type(self).asked += len(requests)
        return [[Sample(text="The answer matches. \\boxed{Correct}")] * params.n for _ in requests]
def tear_last_line(path: Path, fraction: float = 0.5) -> None:
    """Cut the last line of a jsonl file, keeping ``fraction`` of it (always losing at least its newline),
    as a kill in the middle of an append leaves it."""
    data = path.read_bytes()
    start = data.rstrip(b"\n").rfind(b"\n") + 1
    path.write_bytes(data[: start + int(fraction * (len(data) - start - 1))])


def jsonl_lines(path: Path) -> list[str]:
    """The lines of a jsonl file with their newlines, split on ``\n`` only (as the readers split them:
    ``str.splitlines`` would also split inside a record whose text holds U+2028 or U+0085)."""
    return [line + "\n" for line in path.read_text(encoding="utf-8").split("\n")[:-1]]
