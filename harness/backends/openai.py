"""Backend for any OpenAI-compatible chat server: ``vllm serve``, SGLang, ``harness serve``, hosted APIs.

Why a thread pool instead of asyncio: `Backend.generate` is synchronous, callers are plain scripts, and
the work is network-bound, so threads give the concurrency without an event loop leaking into stages.

vLLM-only knobs (``top_k``, ``continue_final_message``, ``add_generation_prompt``) go in ``extra_body``.
Hosted APIs reject unknown fields, so ``extra_params`` turns that off (default: on when ``base_url`` is
given, i.e. a self-hosted server; off for api.openai.com). Continuation requests then fail loudly rather
than silently opening a new assistant turn.

Credentials in ``base_url`` (``http://user:PW@host/v1``) are taken out of the URL and sent as HTTP basic
auth, exactly what the HTTP client did with them, so no request URL -- and no log line or error message
built from one -- carries them; ``describe()`` and connection errors show `harness.redact.redact_url`'s
form of the URL, and the HTTP clients' loggers are filtered through `harness.redact`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import openai

from harness.backends.base import Backend, GenerationRequest, Sample, SamplingParams
from harness.redact import install_log_redaction, redact_text, redact_url


def chat_request_kwargs(
    model: str,
    request: GenerationRequest,
    params: SamplingParams,
    *,
    n: int,
    seed: int | None,
    extra_params: bool,
) -> dict[str, Any]:
    """Keyword arguments for ``client.chat.completions.create`` (pure, so it is tested without a server)."""
    if request.continue_final_message and not extra_params:
        raise ValueError(
            "continue_final_message needs a server that accepts vLLM's `continue_final_message` extra param "
            "(vLLM, SGLang, `harness serve`); this backend has extra_params=False"
        )
    kwargs: dict[str, Any] = {
        "model": model,
        "messages": [dict(m) for m in request.messages],
        "n": n,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "max_tokens": params.max_tokens,
    }
    if seed is not None:
        kwargs["seed"] = seed
    if params.stop:
        kwargs["stop"] = list(params.stop)
    if extra_params:
        extra: dict[str, Any] = {"top_k": params.top_k if params.top_k > 0 else -1}
        if request.continue_final_message:
            extra.update(continue_final_message=True, add_generation_prompt=False)
        kwargs["extra_body"] = extra
    return kwargs


def apportion(total: int, texts: Sequence[str]) -> list[int]:
    """Split a response's total completion tokens over its choices in proportion to text length.

    The OpenAI API reports usage per response, not per choice; sums stay exact (compute accounting)."""
    if len(texts) <= 1:
        return [total] * len(texts)
    weights = [len(t) + 1 for t in texts]
    raw = [total * w / sum(weights) for w in weights]
    counts = [int(r) for r in raw]
    by_remainder = sorted(range(len(raw)), key=lambda i: raw[i] - counts[i], reverse=True)
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


def split_credentials(url: str | None) -> tuple[str | None, tuple[str, str] | None]:
    """``http://user:pw@host/v1`` -> (``http://host/v1``, (user, pw)); URLs without userinfo unchanged.
    The userinfo runs to the *last* ``@`` (as in `harness.redact.redact_url`), so a password typed with an
    unencoded ``/``, ``?``, ``#`` or ``@`` is still a password, not part of the host or path."""
    if not url:
        return url, None
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url, None
    userinfo, remainder = rest.rsplit("@", 1)
    parts = urlsplit(f"{scheme}://{remainder}")
    user, _, password = userinfo.partition(":")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, parts.fragment)), (unquote(user), unquote(password))


class OpenAIBackend(Backend):
    """Chat completions over HTTP. The API key is read from ``$api_key_env`` only, never stored in options.

    ``split_n=True`` sends ``n`` requests with ``n=1`` and seeds ``seed + j`` (for servers that ignore
    ``n``, and to get exact per-sample token counts). ``on_error="record"`` turns a request that still fails
    after the client's retries into ``finish_reason="error"`` samples instead of raising.
    """

    loads_weights = False  # the server owns the model; its name is sent as given

    name = "openai"

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        max_concurrency: int = 8,
        timeout: float = 600,
        max_retries: int = 3,
        extra_params: bool | None = None,
        split_n: bool = False,
        on_error: str = "raise",
    ) -> None:
        if on_error not in ("raise", "record"):
            raise ValueError("on_error must be 'raise' or 'record'")
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be >= 1")
        extra_params = base_url is not None if extra_params is None else extra_params
        super().__init__(
            model,
            base_url=redact_url(base_url),
            max_concurrency=max_concurrency,
            timeout=timeout,
            max_retries=max_retries,
            extra_params=extra_params,
            split_n=split_n,
            on_error=on_error,
        )
        api_key = os.environ.get(api_key_env) if api_key_env else None
        if not api_key:
            if base_url is None:
                raise ValueError(
                    f"set ${api_key_env} to call the hosted OpenAI API, or point at a self-hosted server "
                    "with --base-url URL (base_url= in Python)"
                )
            api_key = "EMPTY"  # self-hosted servers started without --api-key accept anything
        self.api_key_env = api_key_env
        self.extra_params, self.split_n, self.on_error = extra_params, split_n, on_error
        self.max_concurrency = max_concurrency
        self.server = redact_url(base_url) or "the hosted OpenAI API"
        url, auth = split_credentials(base_url)
        install_log_redaction()
        self.client = openai.OpenAI(
            api_key=api_key, base_url=url, timeout=timeout, max_retries=max_retries,
            http_client=openai.DefaultHttpxClient(auth=auth) if auth else None,
        )
        self._warned_top_k = False

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "openai_client": openai.__version__}

    def generate(self, requests: Sequence[GenerationRequest], params: SamplingParams) -> list[list[Sample]]:
        """``params.n`` samples per request, in request order; up to ``max_concurrency`` calls in flight."""
        if not self.extra_params and params.top_k > 0 and not self._warned_top_k:
            warnings.warn("extra_params=False: top_k is not sent; the server's default applies", stacklevel=2)
            self._warned_top_k = True
        if self.split_n:
            calls = [
                (i, 1, None if params.seed is None else params.seed + j)
                for i in range(len(requests))
                for j in range(params.n)
            ]
        else:
            calls = [(i, params.n, params.seed) for i in range(len(requests))]
        # Built up front so a configuration error raises once, whatever `on_error` says.
        bodies = [
            chat_request_kwargs(
                self.model, requests[i], params, n=n, seed=seed, extra_params=self.extra_params
            )
            for i, n, seed in calls
        ]
        with ThreadPoolExecutor(max_workers=self.max_concurrency) as pool:
            answers = list(pool.map(self._call, bodies))
        results: list[list[Sample]] = [[] for _ in requests]
        for (i, _, _), samples in zip(calls, answers, strict=True):
            results[i].extend(samples)
        return results

    def _call(self, kwargs: dict[str, Any]) -> list[Sample]:
        n = kwargs["n"]
        try:
            try:
                response = self.client.chat.completions.create(**kwargs)
            except openai.APITimeoutError:
                raise
            except openai.APIConnectionError as exc:  # the bare "Connection error." says neither where nor why
                cause = exc.__cause__ or exc.__context__
                detail = f" ({type(cause).__name__}: {redact_text(str(cause))})" if cause else ""
                raise openai.APIConnectionError(
                    message=f"cannot reach {self.server}{detail}; is the server up? (the URL comes from --base-url)",
                    request=exc.request,
                ) from None
            return self._to_samples(response, n)
        except (openai.OpenAIError, ValueError) as exc:
            if self.on_error == "raise":
                raise
            error = f"{type(exc).__name__}: {exc}"
            return [Sample("", finish_reason="error", extra={"error": error}) for _ in range(n)]

    @staticmethod
    def _to_samples(response: Any, n: int) -> list[Sample]:
        choices = sorted(response.choices, key=lambda c: c.index)
        if len(choices) != n:
            raise ValueError(f"server returned {len(choices)} choices for n={n}; try split_n=True")
        texts = [c.message.content or "" for c in choices]
        usage = response.usage
        counts = apportion(usage.completion_tokens if usage else 0, texts)
        samples = []
        for choice, text, count in zip(choices, texts, counts, strict=True):
            extra: dict[str, Any] = {"completion_tokens_estimated": True} if n > 1 else {}
            if choice.finish_reason not in ("stop", "length"):
                extra["finish_reason"] = choice.finish_reason  # e.g. content_filter, kept for audits
            reason = "length" if choice.finish_reason == "length" else "stop"
            samples.append(Sample(text, usage.prompt_tokens if usage else 0, count, reason, extra))
        return samples

    def close(self) -> None:
        self.client.close()
