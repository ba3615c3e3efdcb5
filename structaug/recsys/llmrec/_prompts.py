"""Prompt templates for LLMRec's three augmentations.

The defaults paraphrase the paper's prompts (Wei et al., WSDM 2024, Sec. 3 and the
reference repo's ``LLM_augmentation_construct_prompt``): a recommender persona, the
user's history and the candidates with title/genre text, and a terse output format with
no reasoning. One difference: candidates are numbered 1..k inside the prompt (the
reference printed raw item ids), so an out-of-range answer is detectable and ids never
leak between datasets. Override any template by passing your own
:class:`PromptTemplates`; the placeholders are listed on each field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["DEFAULT_ATTRIBUTE_FIELDS", "DEFAULT_PROFILE_FIELDS", "PromptTemplates", "render_items"]

#: what the paper asks the LLM to add to each movie.
DEFAULT_ATTRIBUTE_FIELDS: tuple[str, ...] = ("director", "country", "language")
#: the paper's user-profile fields.
DEFAULT_PROFILE_FIELDS: tuple[str, ...] = (
    "age",
    "gender",
    "liked genre",
    "disliked genre",
    "liked directors",
    "country",
    "language",
)


def render_items(texts: Sequence[str], *, numbered: bool) -> str:
    """One line per item: ``[3] Title (1995), Comedy`` (numbered) or ``- Title ...``."""
    if numbered:
        return "\n".join(f"[{i + 1}] {t}" for i, t in enumerate(texts))
    return "\n".join(f"- {t}" for t in texts)


@dataclass(frozen=True)
class PromptTemplates:
    """The three templates (``str.format`` placeholders in braces).

    Attributes
    ----------
    edge : str
        Placeholders ``{domain}``, ``{history}``, ``{candidates}``, ``{n_candidates}``.
    attribute : str
        Placeholders ``{domain}``, ``{item}``, ``{fields}`` (``a, b, c``), ``{format}`` (``a::b::c``).
    profile : str
        Placeholders ``{domain}``, ``{history}``, ``{user}`` (known demographics or
        "unknown"), ``{format}`` (one ``field: value`` line per field).
    """

    edge: str = (
        "You are a {domain} recommendation system and required to recommend {domain}s to a user based on the "
        "user's history, where each {domain} has a title (similar topic), a year (similar years) and genres "
        "(similar genres).\n"
        "User history:\n{history}\n"
        "Candidates:\n{candidates}\n"
        "Output the number of the user's favorite {domain} and of the least favorite {domain}, only from the "
        "candidates (1 to {n_candidates}), not from the history.\n"
        "Output format: two numbers separated by '::', e.g. 3::7. Nothing else, no brackets, no reasoning."
    )
    attribute: str = (
        "You are now a search engine, and required to provide the inquired information of the given {domain}:\n"
        "{item}\n"
        "The inquired information is: {fields}.\n"
        "Output it in the form {format} on one line: only the content in this form, no other text, "
        "no reasoning, no index. Write 'unknown' for a field you do not know."
    )
    profile: str = (
        "Generate a profile of the user based on the user's history, where each {domain} has a title, a year "
        "and genres.\n"
        "Known about the user: {user}\n"
        "History:\n{history}\n"
        "Output the following information of the user, one line per field, exactly in this form:\n{format}\n"
        "Only the content in the form above, no reasoning. Write 'unknown' when it cannot be inferred."
    )

    def render_edge(self, history: Sequence[str], candidates: Sequence[str], *, domain: str) -> str:
        return self.edge.format(
            domain=domain,
            history=render_items(history, numbered=False),
            candidates=render_items(candidates, numbered=True),
            n_candidates=len(candidates),
        )

    def render_attribute(self, item: str, fields: Sequence[str], *, domain: str) -> str:
        return self.attribute.format(domain=domain, item=item, fields=", ".join(fields), format="::".join(fields))

    def render_profile(self, history: Sequence[str], user: str, fields: Sequence[str], *, domain: str) -> str:
        return self.profile.format(
            domain=domain,
            history=render_items(history, numbered=False),
            user=user,
            format="\n".join(f"{f}: <{f}>" for f in fields),
        )
