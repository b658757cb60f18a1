"""A backend wrapper for crash tests, shared by the eval and InT resume tests."""

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
