"""The application developer's journey with the official `openai` package against Strata's
gateway: nothing changes but `base_url` and `api_key`. Run by crates/strata/tests/it/openai_client.rs
with BASE_URL, KEY (limited to LIMIT_RPM requests per minute), SCOPED_KEY (may not use MODEL)
and MODEL in the environment. Prints one JSON line with what it saw; exits non-zero on a failure."""

import json
import os
import sys

import openai

base, key, model = os.environ["BASE_URL"], os.environ["KEY"], os.environ["MODEL"]
client = openai.OpenAI(base_url=base, api_key=key, max_retries=0)
seen = {}

models = [m.id for m in client.models.list().data]
assert model in models, models
seen["models"] = models

chat = client.chat.completions.create(
    model=model, messages=[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "What is the capital of France?"}], max_tokens=24, temperature=0
)
assert "Paris" in chat.choices[0].message.content, chat
assert chat.usage.completion_tokens > 0
seen["chat"] = chat.choices[0].message.content

scored = client.chat.completions.create(
    model=model, messages=[{"role": "user", "content": "Say yes."}], max_tokens=4, logprobs=True, top_logprobs=2
)
assert len(scored.choices[0].logprobs.content[0].top_logprobs) == 2, scored
seen["logprobs"] = scored.choices[0].logprobs.content[0].logprob

pieces = []
stream = client.chat.completions.create(
    model=model,
    messages=[{"role": "user", "content": "Say hello."}],
    max_tokens=12,
    stream=True,
    stream_options={"include_usage": True},
)
usage = None
for chunk in stream:
    if chunk.choices and chunk.choices[0].delta.content:
        pieces.append(chunk.choices[0].delta.content)
    if chunk.usage:
        usage = chunk.usage
assert pieces and usage and usage.completion_tokens > 0, (pieces, usage)
seen["stream_chunks"] = len(pieces)

completion = client.completions.create(model=model, prompt="Once upon a time", max_tokens=8, temperature=0)
assert completion.choices[0].text, completion
seen["completion"] = completion.choices[0].text

embedding = client.embeddings.create(model=model, input=["The cat sat.", "A dog ran."])
assert len(embedding.data) == 2 and len(embedding.data[0].embedding) > 0, embedding
seen["embedding_dims"] = len(embedding.data[0].embedding)


def expect(error_type, call):
    try:
        call()
    except error_type as e:
        return e
    raise AssertionError(f"expected {error_type.__name__}")


e = expect(openai.NotFoundError, lambda: client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}]))
seen["not_found"] = e.code
e = expect(openai.BadRequestError, lambda: client.chat.completions.create(model=model, messages=[], max_tokens=-1))
seen["bad_request"] = e.param
scoped = openai.OpenAI(base_url=base, api_key=os.environ["SCOPED_KEY"], max_retries=0)
e = expect(openai.PermissionDeniedError, lambda: scoped.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}]))
seen["permission"] = e.code
wrong = openai.OpenAI(base_url=base, api_key="sk-strata-wrong", max_retries=0)
e = expect(openai.AuthenticationError, lambda: wrong.models.list())
seen["authentication"] = e.code

# The key's requests per minute run out: a 429 with Retry-After naming the limit.
limit = int(os.environ["LIMIT_RPM"])
for _ in range(limit + 1):
    try:
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}], max_tokens=1)
    except openai.RateLimitError as e:
        seen["rate_limit"] = {"code": e.code, "retry_after": e.response.headers.get("retry-after")}
        break
assert "rate_limit" in seen, "the rate limit was never hit"

print(json.dumps(seen))
