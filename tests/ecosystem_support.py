"""Shared by the ecosystem tests: an inspect mock model answering from the prompt, offline.

inspect_ai is imported inside the function, so importing this module needs no ecosystem extra.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def mock_model(respond: Callable[[str], str], *, input_tokens: int = 11, output_tokens: int = 7) -> Any:
    """mockllm whose answer is ``respond(last message text)``; explicit usage keeps inspect off tiktoken."""
    from inspect_ai.model import ModelOutput, ModelUsage, get_model

    def output(messages, tools, tool_choice, config) -> ModelOutput:
        out = ModelOutput.from_content("mockllm/model", respond(messages[-1].text))
        out.usage = ModelUsage(
            input_tokens=input_tokens, output_tokens=output_tokens, total_tokens=input_tokens + output_tokens
        )
        return out

    return get_model("mockllm/model", custom_outputs=output)
