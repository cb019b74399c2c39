"""An optional LLM backend behind the scorer's interface: an OpenAI-compatible chat endpoint.

The prompt follows Text2KGBench's one-shot baseline: the ontology's concepts and its relations
as ``relation(domain, range)``, the example sentence most similar to the input (by word overlap)
with its triples, then the sentence; the answer is read as ``relation(subject, object)`` lines.
Only triples of the ontology's relations are kept, and only arguments the sentence contains are
located in it (others get an empty span at the sentence start). The API key is read from the
environment variable the config names, sent only in the ``Authorization`` header, and never
logged or stored. Off by default; nothing in kgforge needs it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from kgforge.errors import KGForgeError
from kgforge.extract.schema.candidates import Candidate
from kgforge.extract.schema.config import GenerativeConfig
from kgforge.extract.schema.model import Example, SchemaTriple
from kgforge.extract.schema.ontology import Ontology

log = logging.getLogger(__name__)
_LINE = re.compile(r"^\s*([^()\n]+?)\s*\(\s*(.+?)\s*,\s*(.+?)\s*\)\s*$")


class GenerativeBackend:
    """``predict(sentences) -> [[SchemaTriple]]`` by prompting a chat model."""

    def __init__(
        self, ontology: Ontology, config: GenerativeConfig, examples: str | Path | None = None
    ) -> None:
        self.ontology = ontology
        self.config = config
        self.examples: list[Example] = []
        if examples is not None:
            from kgforge.extract.schema.examples import read_examples

            self.examples = read_examples(examples, ontology)

    def prompt(self, sentence: str) -> str:
        onto = self.ontology
        concepts = ", ".join(c.label.strip() for c in onto.classes.values())
        rels = ", ".join(
            f"{r.name}({onto.class_label(r.domain)},{onto.class_label(r.range)})"
            for r in onto.relations
        )
        parts = [
            "Extract the triples the sentence states, using only these relations.",
            f"Concepts: {concepts}",
            f"Relations: {rels}",
        ]
        example = self._nearest(sentence)
        if example is not None:
            shown = "\n".join(f"{r}({s}, {o})" for s, r, o in example.triples)
            parts += [f"Example sentence: {example.text}", f"Example output:\n{shown}"]
        parts += [f"Sentence: {sentence}", "Output, one relation(subject, object) per line:"]
        return "\n".join(parts)

    def _nearest(self, sentence: str) -> Example | None:
        words = set(sentence.lower().split())
        return max(
            self.examples,
            key=lambda e: len(words & set(e.text.lower().split())),
            default=None,
        )

    def complete(self, prompt: str) -> str:
        """The endpoint's answer to one prompt (``KGForgeError`` on failure, without the key)."""
        body = json.dumps(
            {
                "model": self.config.model,
                "messages": [{"role": "user", "content": prompt}],
                "temperature": 0,
                "max_tokens": self.config.max_tokens,
            }
        ).encode()
        headers = {"Content-Type": "application/json"}
        if self.config.api_key_env:
            key = os.environ.get(self.config.api_key_env)
            if not key:
                raise KGForgeError(f"environment variable {self.config.api_key_env} is not set")
            headers["Authorization"] = f"Bearer {key}"
        url = self.config.url.rstrip("/") + "/chat/completions"
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout) as response:
                answer = json.loads(response.read().decode("utf-8"))
            return str(answer["choices"][0]["message"]["content"])
        except urllib.error.HTTPError as exc:
            raise KGForgeError(f"{url}: HTTP {exc.code}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise KGForgeError(f"{url}: {getattr(exc, 'reason', exc)}") from None
        except (KeyError, IndexError, TypeError, ValueError):
            raise KGForgeError(f"{url}: not an OpenAI-style chat completion") from None

    def parse(self, sentence: str, answer: str) -> list[SchemaTriple]:
        """The ontology's triples in an answer; other lines and relations are dropped."""
        out = []
        for line in answer.splitlines():
            m = _LINE.match(line)
            if not m:
                continue
            rel, sub, obj = (g.strip().strip("\"'") for g in m.groups())
            try:
                name = self.ontology.relation(rel).name
            except KeyError:
                log.debug("dropped a triple of relation %r: not in the ontology", rel)
                continue
            out.append(
                SchemaTriple(_locate(sentence, sub), sub, name, _locate(sentence, obj), obj, 1.0)
            )
        return out

    def predict(self, sents: list[Any]) -> list[list[SchemaTriple]]:
        return [self.parse(s.text, self.complete(self.prompt(s.text))) for s in sents]


def _locate(sentence: str, text: str) -> Candidate:
    i = sentence.find(text)
    if i < 0:
        return Candidate(0, 0, text, frozenset())
    return Candidate(i, i + len(text), text, frozenset())
