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
